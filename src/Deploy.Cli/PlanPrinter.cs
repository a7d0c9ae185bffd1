using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Deploy.Core.Engine;
using Deploy.Core.Resources;
using Deploy.Resources;

namespace Deploy.Cli;

/// <summary>Prints a plan the way Pulumi does: by group and NF, each changing resource once for the hosts it changes the
/// same way on, unified diffs for files, the rollout's batches and a summary.</summary>
public static partial class PlanPrinter
{
    /// <summary>One line of a preview: a resource step or a lab host of the lab phase, with the changes it makes and
    /// the triggers other steps add (shown as changes: <c>restart: /etc/kamailio/kamailio.cfg changed</c>).</summary>
    /// <param name="Section">What declared it: its NF, "host", "lab host", or "no longer declared" for a delete.</param>
    public sealed record Entry(string Host, string Urn, string Type, string Name, StepOp Op, IReadOnlyList<(PropertyChange Change, bool Trigger)> Changes,
        bool Restart, string? Path, string? Diff)
    {
        public string Section { get; init; } = "host";

        /// <summary>The step starts its service for the first time (a fresh install), rather than restarting it.</summary>
        public bool FirstStart { get; init; }

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
            yield return new Entry(lab.Host, lab.Urn(plan.Stack), Core.Lab.LabChange.Type, lab.Host, lab.Op, [], false, null, null)
            {
                Section = "lab host",
            };
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
            Section = s.Desired?.DeclaredBy ?? "no longer declared",
            FirstStart = FirstStart(s),
            Adopt = s.Adopt,
            Release = s.Release,
        };
    }

    /// <summary>A first start (the package that brings the service was newly installed), not a restart.</summary>
    public static bool FirstStart(PlanStep s) => s.Triggers.Has(TriggerKind.Start) && !s.Triggers.Has(TriggerKind.Restart);

    public static string Text(Plan plan, bool showSames) => string.Concat(Lines(plan, showSames).Select(l => l.Text + "\n"));

    /// <summary>The preview's lines: the steps by group and NF (<see cref="PlanLayout"/>), host problems, the rollout,
    /// the summary.</summary>
    /// <param name="redact">Applied to every step's text before steps are compared across hosts (a secret's value is
    /// never generalized into something redaction would no longer find).</param>
    public static IEnumerable<PlanLine> Lines(Plan plan, bool showSames, Func<string, string>? redact = null)
    {
        var visible = Entries(plan).Where(e => showSames || e.Op != StepOp.Same || e.Adopt)
            .Select(e => redact is null ? e : Redacted(e, redact)).ToList();
        foreach (var line in PlanLayout.Lines(visible, plan.Hosts)) yield return line;
        foreach (var p in plan.Problems) yield return new PlanLine($"{p.Host}: error: {p.Message}", LineKind.Error);
        foreach (var line in Rollout(plan)) yield return line;
        yield return new PlanLine("Resources:", LineKind.Summary);
        var counts = plan.Counts;
        foreach (var op in new[] { StepOp.Create, StepOp.Update, StepOp.Replace, StepOp.Delete })
            if (counts.TryGetValue(op, out var n)) yield return new PlanLine($"    {op.Symbol()} {n} to {Verb(op)}", LineKind.Summary);
        var adopted = plan.Steps.Count(s => s.Adopt);
        if (adopted > 0) yield return new PlanLine($"    = {adopted} to adopt", LineKind.Summary);
        var restarts = plan.Steps.Count(s => s.Triggers.Has(TriggerKind.Restart));
        var starts = plan.Steps.Count(FirstStart);
        var services = new[] { Count(restarts, "service restart"), Count(starts, "first start") }.Where(c => c.Length > 0).ToList();
        if (services.Count > 0) yield return new PlanLine($"    ({string.Join(", ", services)})", LineKind.Summary);
        yield return new PlanLine($"    {counts.GetValueOrDefault(StepOp.Same)} unchanged", LineKind.Summary);
    }

    /// <summary>The batches <c>up</c> goes by: each group whose running services restart, batch after batch; every
    /// other host with changes at once.</summary>
    private static IEnumerable<PlanLine> Rollout(Plan plan)
    {
        var changing = plan.Steps.Where(s => s.Op != StepOp.Same).Select(s => s.Host).ToHashSet(StringComparer.Ordinal);
        var atOnce = plan.Rollout.Where(w => !w.Batched).SelectMany(w => w.Batches.SelectMany(b => b)).Where(changing.Contains).ToList();
        var batched = plan.Rollout.Where(w => w.Batched).ToList();
        if (batched.Count == 0 && atOnce.Count == 0) yield break;
        yield return new PlanLine("Rollout:", LineKind.Summary);
        foreach (var wave in batched)
        {
            var batches = string.Join("; ", wave.Batches.Select((b, i) => $"batch {i + 1}: {string.Join(", ", b)}"));
            var stops = wave.HostCount < 2 ? "" : wave.MaxFailPercent == 0 ? " (stops at the first failure)"
                : $" (stops when more than {wave.MaxFailPercent}% fail)";
            yield return new PlanLine($"    {wave.Group}: {batches}{stops}", LineKind.Summary);
        }
        if (atOnce.Count > 0)
            yield return new PlanLine($"    at once: {string.Join(", ", atOnce)}" + (batched.Count > 0 ? " (nothing running restarts)" : ""),
                LineKind.Summary);
    }

    private static Entry Redacted(Entry e, Func<string, string> redact) => e with
    {
        Name = redact(e.Name),
        Diff = e.Diff is null ? null : redact(e.Diff),
        Changes = [.. e.Changes.Select(c => (c.Change with
        {
            Before = c.Change.Before is null ? null : redact(c.Change.Before),
            After = c.Change.After is null ? null : redact(c.Change.After),
        }, c.Trigger))],
    };

    private static string Count(int n, string what) => n == 0 ? "" : $"{n} {what}{(n == 1 ? "" : "s")}";

    /// <summary>A step's line: operation, type, name and its changes (a file's content shows as its diff instead).</summary>
    internal static string Describe(Entry s)
    {
        // an adoption that changes nothing on the host is marked as Pulumi marks an import
        var symbol = s.Adopt && s.Op == StepOp.Same ? "=" : s.Op.Symbol();
        var line = $"{symbol} {s.Type.PadRight(24)} {s.Name}" +
            (s.Adopt ? "  (adopt: on the host before nf-deploy)" : "") + (s.Release ? "  (adopted: handed back as it was)" : "");
        var changes = s.Changes.Where(c => c.Trigger || c.Change.Name != "content" || s.Diff is null).ToList();
        return changes.Count > 0 ? line + "  [" + string.Join("; ", changes.Select(Describe)) + "]" : line;
    }

    public static string Json(Plan plan)
    {
        var steps = new JsonArray();
        var groups = plan.Hosts.ToDictionary(h => h.Name, h => h.Group, StringComparer.Ordinal);
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
            o["group"] = groups.GetValueOrDefault(s.Host, s.Host);
            o["nf"] = s.Section;
            o["firstStart"] = s.FirstStart;
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
            ["serviceRestarts"] = plan.Steps.Count(s => s.Triggers.Has(TriggerKind.Restart)),
            ["firstStarts"] = plan.Steps.Count(FirstStart),
            ["rollout"] = new JsonArray([.. plan.Rollout.Where(w => w.Batched).Select(w => (JsonNode)new JsonObject
            {
                ["group"] = w.Group,
                ["maxFailPercent"] = w.MaxFailPercent,
                ["batches"] = new JsonArray([.. w.Batches.Select(b => (JsonNode)new JsonArray([.. b.Select(h => (JsonNode)h)]))]),
            })]),
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
