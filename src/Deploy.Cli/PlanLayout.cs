using System.Collections.Immutable;
using System.Text.RegularExpressions;
using Deploy.Core.Engine;
using Deploy.Core.Resources;

namespace Deploy.Cli;

/// <summary>What a line of a preview shows, for its colour.</summary>
public enum LineKind
{
    Group, Section, Hosts, Create, Update, Replace, Delete, Same, DiffHeader, DiffHunk, DiffAdded, DiffRemoved, DiffContext, Error, Summary,
}

/// <summary>One line of a preview, without its newline.</summary>
public sealed record PlanLine(string Text, LineKind Kind);

/// <summary>
/// A preview that reads at 200 resources: the hosts by inventory group (the role they are deployed in), each group's
/// steps by the NF that declared them, and a change made the same way on several hosts of a group shown once under
/// "3 hosts (kamailio-1, kamailio-2, kamailio-3):". The same means the same type, name, operation, changes and diff;
/// when only the hosts' own names and addresses differ, it shows once with <c>{host}</c> and <c>{address}</c> in
/// their place.
/// </summary>
public static partial class PlanLayout
{
    public const string HostMark = "{host}";
    public const string AddressMark = "{address}";
    public const string OwnMark = "{own}";

    /// <summary>Steps that show the same on several hosts, and those hosts.</summary>
    private sealed record Cluster(ImmutableArray<string> Hosts, PlanPrinter.Entry First, Shown Shown, int Position);

    /// <summary>How a step shows: its line and its diff's lines; Generic when host values stand as {host}, {address}.</summary>
    private sealed record Shown(string Line, ImmutableArray<string> Diff, bool Generic);

    public static IEnumerable<PlanLine> Lines(IReadOnlyList<PlanPrinter.Entry> entries, ImmutableArray<PlanHost> hosts)
    {
        var byName = hosts.ToDictionary(h => h.Name, StringComparer.Ordinal);
        string GroupOf(string host) => byName.TryGetValue(host, out var h) ? h.Group : host;
        foreach (var group in entries.GroupBy(e => GroupOf(e.Host)))
        {
            var members = group.Select(e => e.Host).Distinct().ToList();
            var heading = group.Key == members[0] && members.Count == 1 ? group.Key : $"{group.Key}: {string.Join(", ", members)}";
            yield return new PlanLine(heading, LineKind.Group);
            foreach (var section in group.GroupBy(e => e.Section))
            {
                yield return new PlanLine("  " + section.Key, LineKind.Section);
                string? shownHosts = null;
                foreach (var cluster in Clusters([.. section], byName))
                {
                    if (members.Count > 1)
                    {
                        var label = cluster.Hosts.Length == 1 ? cluster.Hosts[0]
                            : $"{cluster.Hosts.Length} hosts ({string.Join(", ", cluster.Hosts)})";
                        if (label != shownHosts) yield return new PlanLine($"    {label}:", LineKind.Hosts);
                        shownHosts = label;
                    }
                    var marks = cluster.Shown.Generic ? Marks(cluster.Shown) : "";
                    var what = cluster.First.Op == StepOp.Create ? "content" : "diff";
                    var same = cluster.Hosts.Length > 1 && cluster.Shown.Diff.Length > 0
                        ? $"  (same {what} on {cluster.Hosts.Length} hosts{(marks.Length > 0 ? "; " + marks : "")})"
                        : marks.Length > 0 ? $"  ({marks})" : "";
                    yield return new PlanLine("      " + cluster.Shown.Line + same, Kind(cluster.First.Op));
                    foreach (var line in cluster.Shown.Diff) yield return new PlanLine("          " + line, DiffKind(line));
                }
            }
        }
    }

    /// <summary>The section's steps, one cluster per distinct change, in apply order (each at its first host's place).</summary>
    private static IEnumerable<Cluster> Clusters(IReadOnlyList<PlanPrinter.Entry> section, IReadOnlyDictionary<string, PlanHost> hosts)
    {
        var position = new Dictionary<PlanPrinter.Entry, int>(ReferenceEqualityComparer.Instance);
        foreach (var host in section.GroupBy(e => e.Host))
        {
            var index = 0;
            foreach (var e in host) position[e] = index++;
        }
        var hostOrder = section.Select(e => e.Host).Distinct().Select((h, i) => (h, i)).ToDictionary(p => p.h, p => p.i);
        // the same change as it is; then those whose only difference is the hosts' own values, shown with their marks
        var raw = section.GroupBy(e => Signature(Raw(e, null))).Select(g => g.ToList()).ToList();
        var clusters = new List<Cluster>();
        foreach (var similar in raw.GroupBy(members => Signature(Generic(members[0], HostOf(members[0])))))
        {
            var groups = similar.ToList();
            var members = groups.SelectMany(g => g).ToList();
            if (groups.Count > 1 && members.DistinctBy(m => m.Host).Count() == members.Count)
                clusters.Add(Of(members, Generic(groups[0][0], HostOf(groups[0][0]))));
            else clusters.AddRange(groups.Select(g => Of(g, Raw(g[0], g.Count > 1 ? g[0].Host : null))));
        }
        return clusters.OrderBy(c => c.Position).ThenBy(c => hostOrder[c.Hosts[0]]);

        Cluster Of(List<PlanPrinter.Entry> members, Shown shown)
        {
            var ordered = members.OrderBy(m => hostOrder[m.Host]).ToList();
            return new([.. ordered.Select(m => m.Host)], ordered[0], shown, members.Min(m => position[m]));
        }

        PlanHost HostOf(PlanPrinter.Entry entry) => hosts.GetValueOrDefault(entry.Host) ?? new PlanHost(entry.Host, entry.Host, []);
    }

    /// <summary>What must be equal for two steps to show once: the line and the diff's lines past its two headers
    /// (which name the host).</summary>
    private static string Signature(Shown shown) => shown.Line + "\n" + string.Join("\n", shown.Diff.Skip(2));

    /// <summary>The step as it is; with <paramref name="headerHost"/>, that host's name is {host} in the diff's headers.</summary>
    private static Shown Raw(PlanPrinter.Entry entry, string? headerHost)
    {
        var diff = Diff(entry);
        if (headerHost is not null)
            diff = [.. diff.Select((l, i) => i < 2 ? Generalize(l, new PlanHost(headerHost, headerHost, [])) : l)];
        return new Shown(PlanPrinter.Describe(entry), diff, Generic: false);
    }

    /// <summary>The step with the host's own name and addresses as {host} and {address} everywhere.</summary>
    private static Shown Generic(PlanPrinter.Entry entry, PlanHost host)
    {
        var raw = string.Join("\n", [PlanPrinter.Describe(entry), .. Diff(entry)]);
        var general = Generalize(raw, host);
        // a new file without its diff shows only a hash of its content: each host's own is not worth a line per host
        if (entry.Op == StepOp.Create && entry.Diff is null) general = Hash().Replace(general, "sha256:" + OwnMark);
        var parts = general.Split('\n');
        return new Shown(parts[0], [.. parts.Skip(1)], Generic: general != raw);
    }

    private static ImmutableArray<string> Diff(PlanPrinter.Entry entry) =>
        entry.Diff is null ? [] : [.. entry.Diff.TrimEnd('\n').Split('\n')];

    /// <summary>"{host}, {own}: each host's own": the marks a generic step shows.</summary>
    private static string Marks(Shown shown)
    {
        var text = string.Join("\n", [shown.Line, .. shown.Diff]);
        var used = new[] { HostMark, AddressMark, OwnMark }.Where(m => text.Contains(m, StringComparison.Ordinal)).ToList();
        return used.Count == 0 ? "" : string.Join(", ", used) + ": each host's own";
    }

    [GeneratedRegex("sha256:[0-9a-f]{6,}")]
    private static partial Regex Hash();

    /// <summary>The host's own name and addresses replaced by {host} and {address} (whole words only: kamailio-1 is not
    /// part of kamailio-10, 10.0.0.1 not of 10.0.0.12).</summary>
    public static string Generalize(string text, PlanHost host)
    {
        var result = Regex.Replace(text, $@"(?<![A-Za-z0-9_]){Regex.Escape(host.Name)}(?![A-Za-z0-9_-])", HostMark);
        foreach (var address in host.Addresses.Where(a => a.Length > 0).OrderByDescending(a => a.Length))
            result = Regex.Replace(result, $@"(?<![0-9A-Za-z.]){Regex.Escape(address)}(?![0-9A-Za-z])", AddressMark);
        return result;
    }

    private static LineKind Kind(StepOp op) => op switch
    {
        StepOp.Create => LineKind.Create,
        StepOp.Update => LineKind.Update,
        StepOp.Replace => LineKind.Replace,
        StepOp.Delete => LineKind.Delete,
        _ => LineKind.Same,
    };

    private static LineKind DiffKind(string line) =>
        line.StartsWith("--- ", StringComparison.Ordinal) || line.StartsWith("+++ ", StringComparison.Ordinal) ? LineKind.DiffHeader
        : line.StartsWith("@@", StringComparison.Ordinal) ? LineKind.DiffHunk
        : line.StartsWith('+') ? LineKind.DiffAdded
        : line.StartsWith('-') ? LineKind.DiffRemoved
        : LineKind.DiffContext;
}
