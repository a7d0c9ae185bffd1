using System.Collections.Immutable;
using System.Text;
using Deploy.Core.Engine;
using Deploy.Core.Probes;
using Deploy.Core.Resources;

namespace Deploy.Resources;

/// <summary>
/// Files that must change together: on one host, the files of one NF (or instance) that restart a common service (a certificate and its key, a
/// kamailio.cfg and the tls.cfg or KEMI script it loads, a freeDiameter config and its TLS credentials) form a set. When
/// two or more files of a set change in a run, they are written to temp files, each validated with all the new files of
/// the set in place, then all moved into place at once — at the position of the set's last changing file, so that
/// everything declared before them (the helper scripts that validate them) is there. A rollback restores them together.
/// </summary>
public sealed partial class FileProvider : IApplyTogether
{
    /// <summary>For each changing file of a set of two or more changing files, the whole set's changing steps (in order).</summary>
    public ImmutableDictionary<string, ImmutableArray<PlanStep>> SetsOf(IReadOnlyList<PlanStep> hostSteps)
    {
        var files = hostSteps.Where(step => step.Type == Type && step.Desired is FileSpec { Block: null, Notify.Length: > 0 }).ToList();
        var parent = files.ToDictionary(step => step.Urn, step => step.Urn);
        string Find(string urn) => parent[urn] == urn ? urn : parent[urn] = Find(parent[urn]);
        // within one NF (or instance): its services come after all its files, so the set is in place before they restart
        var byService = new Dictionary<(string, string), string>();
        foreach (var step in files)
            foreach (var service in ((FileSpec)step.Desired!).Notify)
                if (byService.TryGetValue((step.Desired!.DeclaredBy, service), out var other)) parent[Find(step.Urn)] = Find(other);
                else byService[(step.Desired!.DeclaredBy, service)] = step.Urn;
        var result = ImmutableDictionary.CreateBuilder<string, ImmutableArray<PlanStep>>(StringComparer.Ordinal);
        foreach (var set in files.Where(Writes).GroupBy(step => Find(step.Urn)))
        {
            var members = set.ToImmutableArray();
            if (members.Length < 2) continue;
            foreach (var member in members) result[member.Urn] = members;
        }
        return result.ToImmutable();
    }

    /// <summary>A step that writes new content (a metadata-only update is made on its own).</summary>
    private static bool Writes(PlanStep step) =>
        step.Op is StepOp.Create or StepOp.Replace || (step.Op == StepOp.Update && step.Diff.Has("content"));

    public Task<ImmutableArray<LiveState>> ApplySetAsync(IReadOnlyList<(ResourceSpec Spec, ResourceDiff Diff)> set, HostRun run, CancellationToken ct) =>
        ApplySetAsync([.. set.Select(member => ((FileSpec)member.Spec, member.Diff))], run, ct);

    /// <summary>
    /// A set of files in one script: each new content to a temp file beside its target; every validate command run with
    /// <c>NFD_SET</c> ("PATH=TEMP" for each file of the set) and <c>NFD_SET_DIR</c> in its environment, so that a trial
    /// start sees all the new files at once (each already with its owner and mode); backups; then, with the signals that a lost connection
    /// brings (HUP, PIPE) or a stop request (INT, TERM) ignored, every temp file renamed over its target. Nothing is moved
    /// when a validation fails.
    /// </summary>
    private async Task<ImmutableArray<LiveState>> ApplySetAsync(IReadOnlyList<(FileSpec File, ResourceDiff Diff)> set, HostRun run, CancellationToken ct)
    {
        var sb = new StringBuilder();
        sb.Append("setdir=$(mktemp -d)\n");
        var cleanup = new StringBuilder("rm -rf \"$setdir\"");
        var pairs = new List<string>();
        for (var i = 0; i < set.Count; i++)
        {
            var f = set[i].File;
            sb.Append($"p{i}={Sh.Quote(f.Path)}; d=$(dirname \"$p{i}\"); mkdir -p \"$d\"; t{i}=$(mktemp \"$d/.nfd-XXXXXX\")\n");
            cleanup.Append($" \"$t{i}\"");
            sb.Append($"trap '{cleanup}' EXIT\n");
            sb.Append(Script.WriteBase64($"\"$t{i}\"", f.Content));
            pairs.Add($"$p{i}=$t{i}");
        }
        sb.Append($"NFD_SET=\"{string.Join(' ', pairs)}\"; NFD_SET_DIR=\"$setdir\"; export NFD_SET NFD_SET_DIR\n");
        // owners and modes before the checks: a check sees each file as it will be (a key readable by its daemon's user)
        for (var i = 0; i < set.Count; i++)
        {
            var f = set[i].File;
            sb.Append($"chown -- {Sh.Quote(f.User + ":" + f.Group)} \"$t{i}\"; chmod -- {NormalMode(f.Mode)} \"$t{i}\"\n");
        }
        for (var i = 0; i < set.Count; i++)
        {
            var f = set[i].File;
            if (f.Validate is not null)
                sb.Append($"if ! out=$( ( {f.Validate.Replace("%s", $"\"$t{i}\"")} ) 2>&1 ); then printf '%s\\n' \"$p{i} (validated with the {set.Count} new files it changes with): $out\" >&2; exit {Script.ValidationFailed}; fi\n");
        }
        for (var i = 0; i < set.Count; i++)
        {
            var f = set[i].File;
            var backupName = $"{f.Path}.{run.RunId}.nfd~";
            if (f.Backup) sb.Append($"if [ -f \"$p{i}\" ] && [ ! -e {Sh.Quote(backupName)} ]; then cp -p \"$p{i}\" {Sh.Quote(backupName)}; fi\n");
        }
        // the swap: nothing the connection or a signal does stops it half way
        sb.Append("trap '' HUP INT TERM PIPE\n");
        for (var i = 0; i < set.Count; i++) sb.Append($"mv -f \"$t{i}\" \"$p{i}\"\n");
        sb.Append("trap 'rm -rf \"$setdir\"' EXIT\n");
        var identities = set.Select(x => x.File.Identity).ToList();
        var probe = ProbeMany(identities)!;
        var full = "set -e\n" + sb + ProbeProtocol.ThenProbe(probe);
        var res = await run.Transport.RunAsync(full, ct);
        var names = string.Join(", ", set.Select(x => x.File.Path));
        if (!res.Ok) throw Script.Failure(run, names, res.ExitCode, res.Stdout, res.Stderr);
        var parsed = ParseMany(identities, ProbeProtocol.AfterLines(res.Stdout));
        var lives = ImmutableArray.CreateBuilder<LiveState>();
        for (var i = 0; i < set.Count; i++)
        {
            var f = set[i].File;
            run.Written.Enqueue(new FileChange(f.Path, f.Backup && set[i].Diff.Op != StepOp.Create ? $"{f.Path}.{run.RunId}.nfd~" : null, false));
            lives.Add(Parse(f, parsed[i], run.Facts) ?? throw new Core.Model.ResourceException(run.Transport.HostName, f.Path, "file missing right after it was written"));
        }
        return lives.ToImmutable();
    }
}
