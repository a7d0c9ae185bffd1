using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Deploy.Core.Engine;
using Deploy.Core.Resources;

namespace Deploy.Cli;

/// <summary>Prints a plan the way Pulumi does: per host, each changing resource, unified diffs for files, a summary.</summary>
public static class PlanPrinter
{
    public static string Text(Plan plan, bool showSames)
    {
        var sb = new StringBuilder();
        foreach (var host in plan.Steps.GroupBy(s => s.Host))
        {
            var visible = host.Where(s => showSames || s.Op != StepOp.Same).ToList();
            if (visible.Count == 0) continue;
            sb.Append(host.Key).Append('\n');
            foreach (var s in visible)
            {
                sb.Append("    ").Append(s.Op.Symbol()).Append(' ').Append(s.Type.PadRight(24)).Append(' ').Append(s.Name);
                var changes = s.Changes.Where(c => c.Name != "content" || s.ContentDiff is null).ToList();
                if (changes.Count > 0)
                    sb.Append("  [").Append(string.Join("; ", changes.Select(Describe))).Append(']');
                sb.Append('\n');
                if (s.ContentDiff is not null)
                    foreach (var line in s.ContentDiff.TrimEnd('\n').Split('\n'))
                        sb.Append("        ").Append(line).Append('\n');
            }
        }
        foreach (var p in plan.Problems) sb.Append(p.Host).Append(": error: ").Append(p.Message).Append('\n');
        sb.Append("Resources:\n");
        var counts = plan.Counts;
        foreach (var op in new[] { StepOp.Create, StepOp.Update, StepOp.Replace, StepOp.Delete })
            if (counts.TryGetValue(op, out var n)) sb.Append($"    {op.Symbol()} {n} to {Verb(op)}\n");
        var restarts = plan.Steps.Count(s => s.Restarts);
        if (restarts > 0) sb.Append($"    ({restarts} service restart{(restarts == 1 ? "" : "s")})\n");
        sb.Append($"    {counts.GetValueOrDefault(StepOp.Same)} unchanged\n");
        return sb.ToString();
    }

    public static string Json(Plan plan)
    {
        var steps = new JsonArray();
        foreach (var s in plan.Steps)
        {
            var o = new JsonObject
            {
                ["host"] = s.Host,
                ["urn"] = s.Urn,
                ["type"] = s.Type,
                ["name"] = s.Name,
                ["op"] = Op(s.Op),
                ["restart"] = s.Restarts,
                ["changes"] = new JsonArray([.. s.Changes.Select(c => (JsonNode)new JsonObject
                {
                    ["name"] = c.Name, ["before"] = c.Before, ["after"] = c.After,
                })]),
            };
            if (s.Desired is FileSpec f) o["path"] = f.Path;
            if (s.ContentDiff is not null) o["diff"] = s.ContentDiff;
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

    private static string Describe(PropertyChange c) =>
        c.Name is "restart" or "start" or "daemon-reload" ? $"{c.Name}: {c.After}" : $"{c.Name}: {c.Before ?? "∅"} → {c.After ?? "∅"}";

    private static string Verb(StepOp op) => op switch
    {
        StepOp.Create => "create",
        StepOp.Update => "update",
        StepOp.Replace => "replace",
        _ => "delete",
    };
}
