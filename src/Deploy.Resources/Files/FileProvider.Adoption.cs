using System.Collections.Immutable;
using Deploy.Core.Resources;

namespace Deploy.Resources;

/// <summary>
/// Brownfield files: a file that was on the host before nf-deploy first wrote it (a hand-written kamailio.cfg) is
/// adopted. Its original is copied, with its owner and mode, under <see cref="AdoptedRoot"/> (0700 root: the original may
/// hold secrets, so it never leaves the host and only root reads it) before the first write; destroy moves it back.
/// A managed block that was already there is left as it is.
/// </summary>
public sealed partial class FileProvider : IAdoptable
{
    /// <summary>Where adopted files' originals are kept on the host, each under its own absolute path.</summary>
    public const string AdoptedRoot = "/var/lib/nf-deploy/adopted";

    /// <summary>A regular file (or a block) was there; a directory or a device where the file goes is no adoption.</summary>
    public bool Existed(LiveState live) => live["exists"] != "other";

    public Task KeepOriginalAsync(ResourceSpec desired, HostRun run, CancellationToken ct)
    {
        var file = Cast(desired);
        if (file.Block is not null) return Task.CompletedTask;
        return Script.RunAsync(run, file.Path, KeepScript(file.Path), ct);
    }

    public Task ReleaseAsync(ImmutableSortedDictionary<string, string> identity, ImmutableSortedDictionary<string, string> original,
        HostRun run, CancellationToken ct) =>
        identity.ContainsKey("block") ? Task.CompletedTask : Script.RunAsync(run, identity["path"], RestoreScript(identity["path"]), ct);

    /// <summary>The kept original of a file: its path (normalized, so it stays under the root) under <see cref="AdoptedRoot"/>.</summary>
    public static string KeptPath(string path) =>
        AdoptedRoot + Shapes.Normalize(Shapes.Ensure(path, Shapes.AbsolutePath(path, "file path")));

    /// <summary>Copies the original once (a later run, or a retried one, never replaces the first copy with nf-deploy's own).</summary>
    public static string KeepScript(string path) => $$"""
        p={{Sh.Quote(path)}}; k={{Sh.Quote(KeptPath(path))}}
        if [ -f "$p" ] && [ ! -e "$k" ]; then
          umask 077
          mkdir -p {{AdoptedRoot}} "$(dirname "$k")"
          chown root:root {{AdoptedRoot}}; chmod 0700 {{AdoptedRoot}}
          cp -p -- "$p" "$k.nfd-tmp"
          mv -f -- "$k.nfd-tmp" "$k"
        fi
        """;

    /// <summary>Puts the original back whole (copied beside the file, then renamed over it) and drops the kept copy; with no
    /// copy (the file already was as the site wanted), the file is left.</summary>
    public static string RestoreScript(string path) => $$"""
        p={{Sh.Quote(path)}}; k={{Sh.Quote(KeptPath(path))}}
        if [ -f "$k" ]; then
          mkdir -p "$(dirname "$p")"
          cp -p -- "$k" "$p.nfd-restore"
          mv -f -- "$p.nfd-restore" "$p"
          rm -f -- "$k"
        fi
        """;
}
