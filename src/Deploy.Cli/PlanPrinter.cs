using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Deploy.Core.Engine;
using Deploy.Core.Resources;
using Deploy.Resources;

namespace Deploy.Cli;

/// <summary>Prints a plan the way Pulumi does: per host, each changing resource, unified diffs for files, a summary.</summary>
public static class PlanPrinter
{
    /// <summary>One line of a preview: a resource step or a lab host of the lab phase, with the changes it makes and
    /// the triggers other steps add (shown as changes: <c>restart: /etc/kamailio/kamailio.cfg changed</c>).</summary>
    public sealed record Entry(string Host, string Urn, string Type, string Name, StepOp Op, IReadOnlyList<(PropertyChange Change, bool Trigger)> Changes,
        bool Restart, string? Path, string? Diff)
    {
        /// <summary>On the host before nf-deploy: adopted, not owned (see <see cref="PlanStep.Adopt"/>).</summary>
        public bool Adopt { get; init; }

        /// <summary>A delete that hands an adopted resource back as it was.</summary>
        public bool Release { get; init; }
    }

    /// <summary>The plan's entries in the order they are applied: each lab host before its resources.</summary>
    public static IEnumerable<Entry> Entries(Plan plan)
    {
        var byHost = plan.Steps.ToLookup(s => s.Host);
        var shown = new HashSet<string>(StringComparer.Ordinal);
        foreach (var lab in plan.Lab)
        {
            yield return new Entry(lab.Host, lab.Urn(plan.Stack), Core.Lab.LabChange.Type, lab.Host, lab.Op, [], false, null, null);
            if (!shown.Add(lab.Host)) continue;
            foreach (var step in byHost[lab.Host]) yield return Of(step);
        }
        foreach (var step in plan.Steps.Where(s => !shown.Contains(s.Host))) yield return Of(step);
    }

    private static Entry Of(PlanStep s)
    {
        // definitions reloaded come first, as they are done first; restarts and starts after the step's own changes
        var changes = s.Triggers.Where(t => !t.Starts).Select(t => (new PropertyChange(t.Name, null, t.Reason), true))
            .Concat(s.Changes.Select(c => (c, false)))
            .Concat(s.Triggers.Where(t => t.Starts).Select(t => (new PropertyChange(t.Name, null, t.Reason), true)))
            .ToList();
        return new Entry(s.Host, s.Urn, s.Type, s.Name, s.Op, changes, s.Restarts, (s.Desired as FileSpec)?.Path, s.ContentDiff)
        {
            Adopt = s.Adopt,
            Release = s.Release,
        };
    }

    public static string Text(Plan plan, bool showSames)
    {
        var sb = new StringBuilder();
        foreach (var host in Entries(plan).GroupBy(s => s.Host))
        {
            var visible = host.Where(s => showSames || s.Op != StepOp.Same || s.Adopt).ToList();
            if (visible.Count == 0) continue;
            sb.Append(host.Key).Append('\n');
            foreach (var s in visible)
            {
                // an adoption that changes nothing on the host is marked as Pulumi marks an import
                var symbol = s.Adopt && s.Op == StepOp.Same ? "=" : s.Op.Symbol();
                sb.Append("    ").Append(symbol).Append(' ').Append(s.Type.PadRight(24)).Append(' ').Append(s.Name);
                if (s.Adopt) sb.Append("  (adopt: on the host before nf-deploy)");
                if (s.Release) sb.Append("  (adopted: handed back as it was)");
                var changes = s.Changes.Where(c => c.Trigger || c.Change.Name != "content" || s.Diff is null).ToList();
                if (changes.Count > 0)
                    sb.Append("  [").Append(string.Join("; ", changes.Select(Describe))).Append(']');
                sb.Append('\n');
                if (s.Diff is not null)
                    foreach (var line in s.Diff.TrimEnd('\n').Split('\n'))
                        sb.Append("        ").Append(line).Append('\n');
            }
        }
        foreach (var p in plan.Problems) sb.Append(p.Host).Append(": error: ").Append(p.Message).Append('\n');
        sb.Append("Resources:\n");
        var counts = plan.Counts;
        foreach (var op in new[] { StepOp.Create, StepOp.Update, StepOp.Replace, StepOp.Delete })
            if (counts.TryGetValue(op, out var n)) sb.Append($"    {op.Symbol()} {n} to {Verb(op)}\n");
        var adopted = plan.Steps.Count(s => s.Adopt);
        if (adopted > 0) sb.Append($"    = {adopted} to adopt\n");
        var restarts = plan.Steps.Count(s => s.Restarts);
        if (restarts > 0) sb.Append($"    ({restarts} service restart{(restarts == 1 ? "" : "s")})\n");
        sb.Append($"    {counts.GetValueOrDefault(StepOp.Same)} unchanged\n");
        return sb.ToString();
    }

    public static string Json(Plan plan)
    {
        var steps = new JsonArray();
        foreach (var s in Entries(plan))
        {
            var o = new JsonObject
            {
                ["host"] = s.Host,
                ["urn"] = s.Urn,
                ["type"] = s.Type,
                ["name"] = s.Name,
                ["op"] = Op(s.Op),
                ["restart"] = s.Restart,
                ["changes"] = new JsonArray([.. s.Changes.Select(c => (JsonNode)new JsonObject
                {
                    ["name"] = c.Change.Name, ["before"] = c.Change.Before, ["after"] = c.Change.After,
                })]),
            };
            if (s.Adopt) o["adopt"] = true;
            if (s.Release) o["release"] = true;
            if (s.Path is not null) o["path"] = s.Path;
            if (s.Diff is not null) o["diff"] = s.Diff;
            steps.Add(o);
        }
        var summary = new JsonObject();
        foreach (var (op, n) in plan.Counts.OrderBy(c => c.Key)) summary[Op(op)] = n;
        var doc = new JsonObject
        {
            ["stack"] = plan.Stack,
            ["steps"] = steps,
            ["changeSummary"] = summary,
            ["problems"] = new JsonArray([.. plan.Problems.Select(p => (JsonNode)new JsonObject { ["host"] = p.Host, ["message"] = p.Message })]),
        };
        return doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    public static string Op(StepOp op) => op.ToString().ToLowerInvariant();

    private static string Describe((PropertyChange Change, bool Trigger) c) =>
        c.Trigger ? $"{c.Change.Name}: {c.Change.After}" : $"{c.Change.Name}: {c.Change.Before ?? "∅"} → {c.Change.After ?? "∅"}";

    private static string Verb(StepOp op) => op switch
    {
        StepOp.Create => "create",
        StepOp.Update => "update",
        StepOp.Replace => "replace",
        _ => "delete",
    };
}
