using System.Collections.Immutable;
using Deploy.Core.Resources;

namespace Deploy.Core.Engine;

/// <summary>
/// Files that must change together: on one host, the files of one NF (or instance) that restart a common service (a certificate and its key, a
/// kamailio.cfg and the tls.cfg or KEMI script it loads, a freeDiameter config and its TLS credentials) form a set. When
/// two or more files of a set change in a run, they are written to temp files, each validated with all the new files of
/// the set in place, then all moved into place at once — at the position of the set's last changing file, so that
/// everything declared before them (the helper scripts that validate them) is there. A rollback restores them together.
/// </summary>
public static class FileSets
{
    /// <summary>For each changing file of a set of two or more changing files, the whole set's changing steps (in order).</summary>
    public static ImmutableDictionary<string, ImmutableArray<PlanStep>> Of(IReadOnlyList<PlanStep> hostSteps)
    {
        var files = hostSteps.Where(s => s.Desired is FileSpec { Block: null, Notify.Length: > 0 } && s.Type == ResourceTypes.File).ToList();
        var parent = files.ToDictionary(s => s.Urn, s => s.Urn);
        string Find(string u) => parent[u] == u ? u : parent[u] = Find(parent[u]);
        // within one NF (or instance): its services come after all its files, so the set is in place before they restart
        var byService = new Dictionary<(string, string), string>();
        foreach (var s in files)
            foreach (var svc in ((FileSpec)s.Desired!).Notify)
                if (byService.TryGetValue((s.Desired!.DeclaredBy, svc), out var other)) parent[Find(s.Urn)] = Find(other);
                else byService[(s.Desired!.DeclaredBy, svc)] = s.Urn;
        var result = ImmutableDictionary.CreateBuilder<string, ImmutableArray<PlanStep>>(StringComparer.Ordinal);
        foreach (var set in files.Where(Writes).GroupBy(s => Find(s.Urn)))
        {
            var members = set.ToImmutableArray();
            if (members.Length < 2) continue;
            foreach (var m in members) result[m.Urn] = members;
        }
        return result.ToImmutable();
    }

    /// <summary>A step that writes new content (a metadata-only update is made on its own).</summary>
    public static bool Writes(PlanStep s) => s.Op is StepOp.Create or StepOp.Replace || (s.Op == StepOp.Update && s.Diff.Has("content"));
}

/// <summary>A provider that writes a set of files together (<see cref="FileSets"/>).</summary>
public interface IFileSetApply
{
    /// <summary>Writes every file of the set to a temp file, validates each with all of them in place (the validate
    /// commands see <c>NFD_SET</c>: "PATH=TEMP ..." and <c>NFD_SET_DIR</c>, a folder for the set's validation), then moves
    /// all into place in one uninterruptible step. Nothing moves when one fails. Returns each file's live state.</summary>
    Task<ImmutableArray<LiveState>> ApplySetAsync(IReadOnlyList<(FileSpec File, ResourceDiff Diff)> set, HostRun run, CancellationToken ct);
}
