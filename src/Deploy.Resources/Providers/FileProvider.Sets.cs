using System.Collections.Immutable;
using System.Text;
using Deploy.Core.Engine;
using Deploy.Core.Resources;

namespace Deploy.Resources.Providers;

public sealed partial class FileProvider : IFileSetApply
{
    /// <summary>
    /// A set of files in one script: each new content to a temp file beside its target; every validate command run with
    /// <c>NFD_SET</c> ("PATH=TEMP" for each file of the set) and <c>NFD_SET_DIR</c> in its environment, so that a trial
    /// start sees all the new files at once (each already with its owner and mode); backups; then, with the signals that a lost connection
    /// brings (HUP, PIPE) or a stop request (INT, TERM) ignored, every temp file renamed over its target. Nothing is moved
    /// when a validation fails.
    /// </summary>
    public async Task<ImmutableArray<LiveState>> ApplySetAsync(IReadOnlyList<(FileSpec File, ResourceDiff Diff)> set, HostRun run, CancellationToken ct)
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
        var full = "set -e\n" + sb + "set +e\necho '##nfd:after'\n( " + probe.TrimEnd() + "\n)\n";
        var res = await run.Transport.RunAsync(full, ct);
        var names = string.Join(", ", set.Select(x => x.File.Path));
        if (!res.Ok) throw Script.Failure(run, names, res.ExitCode, res.Stdout, res.Stderr);
        var idx = res.Stdout.IndexOf("##nfd:after\n", StringComparison.Ordinal);
        var lines = (idx < 0 ? "" : res.Stdout[(idx + 12)..]).Split('\n');
        var parsed = ParseMany(identities, lines);
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
