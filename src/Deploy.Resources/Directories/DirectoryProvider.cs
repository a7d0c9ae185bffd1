using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Core.Resources;

namespace Deploy.Resources;

/// <summary>Directories, with owner and mode (and, declared <c>purge</c>, removed with their content). One that was on
/// the host before nf-deploy (a brownfield host) is adopted: destroy leaves it and what it holds.</summary>
public sealed class DirectoryProvider : ResourceProvider<DirectorySpec>, IAdoptable
{
    public bool Existed(LiveState live) => live["exists"] != "other";

    public Task KeepOriginalAsync(ResourceSpec desired, HostRun run, CancellationToken ct) => Task.CompletedTask;

    /// <summary>Never removed, not even a <c>purge</c> one: its content was there before nf-deploy.</summary>
    public Task ReleaseAsync(ImmutableSortedDictionary<string, string> identity, ImmutableSortedDictionary<string, string> original,
        HostRun run, CancellationToken ct) => Task.CompletedTask;

    public override string Type => ResourceTypes.Directory;

    public override string Probe(ImmutableSortedDictionary<string, string> identity) => $"""
        p={Sh.Quote(Shapes.Ensure(identity["path"], Shapes.AbsolutePath(identity["path"], "directory path")))}
        if [ -d "$p" ]; then echo exists=1; stat --printf 'owner=%U\ngroup=%G\nmode=%04a\n' "$p"; elif [ -e "$p" ]; then echo exists=other; fi
        """;

    public override LiveState? Parse(DirectorySpec desired, IReadOnlyDictionary<string, string> values, HostFacts facts) =>
        values.TryGetValue("exists", out var e)
            ? LiveState.Of(e == "other" ? [new("exists", "other")] : values.Where(v => v.Key is "owner" or "group" or "mode"))
            : null;

    public override ResourceDiff Diff(DirectorySpec desired, LiveState? live)
    {
        var d = desired;
        var mode = FileProvider.NormalMode(d.Mode);
        if (live is null) return new ResourceDiff(StepOp.Create, [new PropertyChange("path", null, d.Path)]);
        if (live["exists"] == "other") return new ResourceDiff(StepOp.Replace, [new PropertyChange("type", "not a directory", "directory")]);
        var changes = ImmutableArray.CreateBuilder<PropertyChange>();
        if (live["owner"] != d.User) changes.Add(new PropertyChange("owner", live["owner"], d.User));
        if (live["group"] != d.Group) changes.Add(new PropertyChange("group", live["group"], d.Group));
        if (live["mode"] != mode) changes.Add(new PropertyChange("mode", live["mode"], mode));
        return changes.Count == 0 ? ResourceDiff.Same : new ResourceDiff(StepOp.Update, changes.ToImmutable());
    }

    public override async Task<LiveState> ApplyAsync(DirectorySpec desired, ResourceDiff diff, HostRun run, CancellationToken ct)
    {
        var d = desired;
        var p = Sh.Quote(Shapes.Ensure(d.Path, Shapes.AbsolutePath(d.Path, "directory path")));
        var script = $"""
            {(diff.Op == StepOp.Replace ? $"rm -f -- {p}" : "")}
            mkdir -p -- {p}
            chown -- {Sh.Quote(d.User + ":" + d.Group)} {p}
            chmod -- {FileProvider.NormalMode(d.Mode)} {p}
            """;
        var after = await Script.RunAndProbeAsync(run, d.Path, script, Probe(d.Identity), ct);
        return Parse(d, after, run.Facts) ?? throw new ResourceException(run.Transport.HostName, d.Path, "directory missing right after it was made");
    }

    /// <summary>Removes the directory only when it is empty (it may hold what nobody declared), unless it is purged:
    /// then with everything in it (an instance's runtime dir with its sockets, its config dir with backups).</summary>
    public override Task DeleteAsync(ImmutableSortedDictionary<string, string> identity, HostRun run, CancellationToken ct)
    {
        var path = identity["path"];
        Shapes.Ensure(path, Shapes.AbsolutePath(path, "directory path"));
        // the compiler refused a system directory already; a state file edited since is refused here too (rmdir only)
        var purge = identity.GetValueOrDefault("purge") == "true" && Shapes.PurgeablePath(path) is null;
        return Script.RunAsync(run, path, purge ? $"rm -rf -- {Sh.Quote(path)}" : $"rmdir -- {Sh.Quote(path)} 2>/dev/null || true", ct);
    }
}
