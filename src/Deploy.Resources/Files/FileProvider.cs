using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Core.Resources;

namespace Deploy.Resources;

/// <summary>
/// Files (and apt keys and repositories, which are files too). Compared by SHA-256 of the content, plus owner,
/// group and mode. A new content is written to a temp file next to the target, given its owner and mode, validated
/// (as it will be: a daemon user must be able to read it), the old file backed up, then moved into place. With a
/// block, only a marked block of the file is managed, edited in place (so bind-mounted files like a container's /etc/hosts work).
/// </summary>
public sealed partial class FileProvider(string type) : ResourceProvider<FileSpec>, IRollback, IContentDiff, IVolatileProperties
{
    public override string Type { get; } = type;

    /// <summary>An mtime moves when anyone touches the file; its content and metadata are what count.</summary>
    public bool IsVolatile(string property) => property == "mtime";

    /// <summary>The live content (or the managed block with its markers) for a preview's diff; none for a secret.</summary>
    public ContentView? View(ResourceSpec desired)
    {
        if (desired is not FileSpec { Secret: false } file) return null;
        var fetch = file.Block is null
            ? $"base64 -w0 < {Sh.Quote(file.Path)}; echo\n"
            : $"sed -n {ManagedBlock.SedRange(file.Block)} {Sh.Quote(file.Path)} | base64 -w0; echo\n";
        return new ContentView(fetch, file.Block is null ? file.Content : file.BlockText, file.Path);
    }

    public override string Probe(ImmutableSortedDictionary<string, string> identity)
    {
        var p = Sh.Quote(identity["path"]);
        if (identity.TryGetValue("block", out var block))
            return $"""
                p={p}
                if [ -f "$p" ]; then
                  echo exists=1
                  b=$(sed -n {ManagedBlock.SedRange(block)} "$p")
                  if [ -n "$b" ]; then echo block=1; echo "sha256=$(printf '%s\n' "$b" | sha256sum | cut -d' ' -f1)"; else echo block=0; fi
                fi
                """;
        // few processes: a host reads every resource in one round trip, and each fork costs ~10 ms in a container
        return $"""
            p={p}
            if [ -f "$p" ]; then
              echo exists=1
              stat --printf 'owner=%U\ngroup=%G\nmode=%04a\nmtime=%Y\nsha256=' "$p"
              sha256sum < "$p"
            elif [ -e "$p" ]; then echo exists=other; fi
            """;
    }

    /// <summary>
    /// All files of a host in one go: a shell loop (no processes) finds which exist, then one <c>stat</c> and one
    /// <c>sha256sum</c> read them all. Managed blocks are read one by one (a host has few).
    /// Output: <c>E n</c> (n exists, in order), <c>O n</c> (not a regular file), <c>T owner|group|mode|mtime</c> and
    /// <c>hash  path</c> lines for the existing ones in the same order, <c>B n yes|no hash</c> for blocks.
    /// </summary>
    public override string? ProbeMany(IReadOnlyList<ImmutableSortedDictionary<string, string>> identities)
    {
        var sb = new System.Text.StringBuilder("set --\n");
        for (var n = 0; n < identities.Count; n++)
        {
            var id = identities[n];
            var p = Sh.Quote(id["path"]);
            if (id.TryGetValue("block", out var block))
                sb.Append($$"""
                    if [ -f {{p}} ]; then
                      b=$(sed -n {{ManagedBlock.SedRange(block)}} {{p}})
                      if [ -n "$b" ]; then h=$(printf '%s\n' "$b" | sha256sum); echo "B {{n}} yes ${h%% *}"; else echo "B {{n}} no"; fi
                    fi

                    """);
            else
                sb.Append($"if [ -f {p} ]; then echo 'E {n}'; set -- \"$@\" {p}; elif [ -e {p} ]; then echo 'O {n}'; fi\n");
        }
        sb.Append("if [ $# -gt 0 ]; then stat --printf 'T %U|%G|%04a|%Y\\n' -- \"$@\"; sha256sum -- \"$@\"; fi\n");
        return sb.ToString();
    }

    public override IReadOnlyList<IReadOnlyDictionary<string, string>> ParseMany(IReadOnlyList<ImmutableSortedDictionary<string, string>> identities, IReadOnlyList<string> lines)
    {
        var result = identities.Select(_ => new Dictionary<string, string>(StringComparer.Ordinal)).ToArray();
        var existing = new List<int>();
        var stats = new List<string>();
        var hashes = new List<string>();
        foreach (var line in lines)
        {
            if (line.StartsWith("E ", StringComparison.Ordinal)) existing.Add(int.Parse(line[2..], System.Globalization.CultureInfo.InvariantCulture));
            else if (line.StartsWith("O ", StringComparison.Ordinal)) result[int.Parse(line[2..], System.Globalization.CultureInfo.InvariantCulture)]["exists"] = "other";
            else if (line.StartsWith("T ", StringComparison.Ordinal)) stats.Add(line[2..]);
            else if (line.StartsWith("B ", StringComparison.Ordinal))
            {
                var parts = line.Split(' ');
                var d = result[int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture)];
                d["exists"] = "1";
                d["block"] = parts[2] == "yes" ? "1" : "0";
                if (parts.Length > 3) d["sha256"] = parts[3];
            }
            else if (line.Length > 66 && line[64] == ' ') hashes.Add(line[..64]);
        }
        for (var k = 0; k < existing.Count; k++)
        {
            var d = result[existing[k]];
            d["exists"] = "1";
            if (k < stats.Count)
            {
                var t = stats[k].Split('|');
                (d["owner"], d["group"], d["mode"], d["mtime"]) = (t[0], t[1], t[2], t[3]);
            }
            if (k < hashes.Count) d["sha256"] = hashes[k];
        }
        return result;
    }

    public override LiveState? Parse(FileSpec desired, IReadOnlyDictionary<string, string> values, HostFacts facts)
    {
        if (!values.TryGetValue("exists", out var exists)) return null;
        if (exists == "other") return LiveState.Of([new("exists", "other")]);
        if (values.TryGetValue("block", out var block) && block == "0") return null;
        var sha = values.GetValueOrDefault("sha256")?.Split(' ')[0] ?? "";
        return LiveState.Of(values.Where(v => v.Key is "owner" or "group" or "mode" or "mtime")
            .Append(new("sha256", desired.StateHash(sha))));
    }

    public override ResourceDiff Diff(FileSpec desired, LiveState? live)
    {
        var f = desired;
        if (live is null) return new ResourceDiff(StepOp.Create, [new PropertyChange("content", null, Short(f.Sha256))]);
        if (live["exists"] == "other")
            return new ResourceDiff(StepOp.Replace, [new PropertyChange("type", "not a regular file", "file")]);
        var changes = ImmutableArray.CreateBuilder<PropertyChange>();
        if (live["sha256"] != f.StateHash(f.Sha256)) changes.Add(new PropertyChange("content", Short(live["sha256"]), Short(f.StateHash(f.Sha256))));
        if (f.Block is null)
        {
            if (live["owner"] != f.User) changes.Add(new PropertyChange("owner", live["owner"], f.User));
            if (live["group"] != f.Group) changes.Add(new PropertyChange("group", live["group"], f.Group));
            if (live["mode"] != NormalMode(f.Mode)) changes.Add(new PropertyChange("mode", live["mode"], NormalMode(f.Mode)));
        }
        return changes.Count == 0 ? ResourceDiff.Same : new ResourceDiff(StepOp.Update, changes.ToImmutable());
    }

    public override async Task<LiveState> ApplyAsync(FileSpec desired, ResourceDiff diff, HostRun run, CancellationToken ct)
    {
        var f = desired;
        var backupName = Backups.Name(f, run.RunId);
        var script = f.Block is not null ? BlockScript(f, run.RunId)
            // an owner or mode change of a checked file is checked too (a key its daemon could no longer read): written
            // whole, the temp file with the new owner and mode validated before it replaces the file
            : diff.Op == StepOp.Update && !diff.Has("content") && f.Validate is null ? MetadataScript(f)
            : WriteScript(f, run.RunId);
        var after = await Script.RunAndProbeAsync(run, f.Path, script, Probe(f.Identity), ct);
        if (Type is ResourceTypes.AptKey or ResourceTypes.AptRepository) run.AptIndexStale = true;
        if (diff.Has("content") || diff.Op == StepOp.Create || diff.Op == StepOp.Update && f.Validate is not null && f.Block is null)
            run.Written.Enqueue(new FileChange(f.Path, f.Backup && (diff.Op != StepOp.Create || f.Block is not null) ? backupName : null, f.Block is not null));
        return Parse(f, after, run.Facts) ?? throw new ResourceException(run.Transport.HostName, f.Path, "file missing right after it was written");
    }

    /// <summary>Puts back what this run's file writes replaced (newest first): backups restored, new files removed.</summary>
    public Task RollbackAsync(HostRun run, CancellationToken ct)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var c in run.Written.Reverse())
        {
            var p = Sh.Quote(c.Path);
            if (c.Backup is null) sb.Append($"rm -f {p}\n");
            else if (c.InPlace) sb.Append($"if [ -f {Sh.Quote(c.Backup)} ]; then cat {Sh.Quote(c.Backup)} > {p}; fi\n");
            else sb.Append($"if [ -f {Sh.Quote(c.Backup)} ]; then cp -p {Sh.Quote(c.Backup)} {p}.nfd-rb && mv -f {p}.nfd-rb {p}; fi\n");
        }
        return Script.RunAsync(run, "rollback", sb.ToString(), ct);
    }

    public override async Task DeleteAsync(ImmutableSortedDictionary<string, string> identity, HostRun run, CancellationToken ct)
    {
        var p = Sh.Quote(identity["path"]);
        var script = identity.TryGetValue("block", out var block)
            ? $$"""
                p={{p}}
                [ -f "$p" ] || exit 0
                tmp=$(mktemp)
                {{ManagedBlock.AwkWithout(block)}} "$p" > "$tmp"
                cat "$tmp" > "$p"; rm -f "$tmp"
                """
            : $"rm -f {p}";
        await Script.RunAsync(run, identity["path"], script, ct);
        if (Type is ResourceTypes.AptKey or ResourceTypes.AptRepository) run.AptIndexStale = true;
    }

    private static string WriteScript(FileSpec f, string runId)
    {
        var validate = f.Validate is null ? "" :
            $$"""
            if ! out=$( ( {{f.Validate.Replace("%s", "\"$tmp\"")}} ) 2>&1 ); then printf '%s\n' "$out" >&2; exit {{Script.ValidationFailed}}; fi
            """;
        var backup = Backups.Script(f, runId);
        return $"""
            p={Sh.Quote(f.Path)}
            d=$(dirname "$p"); mkdir -p "$d"
            tmp=$(mktemp "$d/.nfd-XXXXXX")
            trap 'rm -f "$tmp"' EXIT
            {Script.WriteBase64("\"$tmp\"", f.Content)}
            chown -- {Sh.Quote(f.User + ":" + f.Group)} "$tmp"
            chmod -- {NormalMode(f.Mode)} "$tmp"
            {validate}
            {backup}
            mv -f "$tmp" "$p"
            trap - EXIT
            """;
    }

    private static string MetadataScript(FileSpec f) => $"""
        chown -- {Sh.Quote(f.User + ":" + f.Group)} {Sh.Quote(f.Path)}
        chmod -- {NormalMode(f.Mode)} {Sh.Quote(f.Path)}
        """;

    private static string BlockScript(FileSpec f, string runId)
    {
        var backup = Backups.Script(f, runId);
        return $$"""
            p={{Sh.Quote(f.Path)}}
            [ -e "$p" ] || touch "$p"
            tmp=$(mktemp)
            trap 'rm -f "$tmp" "$tmp.b"' EXIT
            {{Script.WriteBase64("\"$tmp.b\"", f.BlockText)}}
            {{ManagedBlock.AwkWithout(f.Block!)}} "$p" > "$tmp"
            cat "$tmp.b" >> "$tmp"
            {{backup}}
            cat "$tmp" > "$p"
            """;
    }

    public static string NormalMode(string mode) => mode.Length >= 4 ? mode : mode.PadLeft(4, '0');

    private static string? Short(string? sha) => sha is null ? null
        : sha.StartsWith("hmac-", StringComparison.Ordinal) ? sha[..Math.Min(24, sha.Length)] : "sha256:" + sha[..Math.Min(12, sha.Length)];
}
