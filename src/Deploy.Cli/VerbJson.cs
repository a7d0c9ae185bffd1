using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Nodes;
using Deploy.Core.Engine;
using Deploy.Core.State;

namespace Deploy.Cli;

/// <summary>The <c>--json</c> documents of the verbs that report results (preview's and up's are the plan's,
/// <see cref="PlanPrinter.Json"/>): one document on stdout, every other line on stderr.</summary>
public static class VerbJson
{
    private static readonly JsonSerializerOptions Indented = new()
    {
        WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string Print(JsonNode document) => document.ToJsonString(Indented) + "\n";

    public static JsonArray Problems(IEnumerable<HostProblem> problems) =>
        new([.. problems.Select(p => (JsonNode)new JsonObject { ["host"] = p.Host, ["message"] = p.Message })]);

    /// <summary><c>refresh --json</c>: the drift of each resource from the last applied state.</summary>
    public static JsonObject Refresh(string stack, RefreshReport report) => new()
    {
        ["stack"] = stack,
        ["drifts"] = new JsonArray([.. report.Drifts.Select(d => (JsonNode)new JsonObject
        {
            ["host"] = d.Host,
            ["urn"] = d.Urn,
            ["name"] = d.Name,
            ["changes"] = new JsonArray([.. d.Changes.Select(c => (JsonNode)new JsonObject
            {
                ["name"] = c.Name, ["before"] = c.Before, ["after"] = c.After,
            })]),
        })]),
        ["problems"] = Problems(report.Problems),
    };

    /// <summary><c>destroy --json</c>: the resources deleted (those of hosts that could be cleaned) and the problems.</summary>
    public static JsonObject Destroy(string stack, StackState state, ImmutableArray<HostProblem> problems)
    {
        var failed = problems.Select(p => p.Host).ToHashSet(StringComparer.Ordinal);
        return new JsonObject
        {
            ["stack"] = stack,
            ["ok"] = problems.IsEmpty,
            ["deleted"] = new JsonArray([.. state.Resources.Where(r => !failed.Contains(r.Host)).Select(r => (JsonNode)new JsonObject
            {
                ["host"] = r.Host, ["urn"] = r.Urn, ["type"] = r.Type, ["name"] = r.Name,
            })]),
            ["problems"] = Problems(problems),
        };
    }

    /// <summary><c>health --json</c>: each host's checks with their results.</summary>
    public static JsonObject Health(string stack, ImmutableArray<HostOutcome> hosts, ImmutableArray<HostProblem> problems) => new()
    {
        ["stack"] = stack,
        ["ok"] = problems.IsEmpty && hosts.All(h => h.Ok),
        ["hosts"] = new JsonArray([.. hosts.Select(h => (JsonNode)new JsonObject
        {
            ["host"] = h.Host, ["ok"] = h.Ok, ["checks"] = CallReport.Json(h.Health),
        })]),
        ["problems"] = Problems(problems),
    };

    /// <summary><c>restart --json</c>: each targeted host's restarts and health checks.</summary>
    public static JsonObject Restart(string stack, ApplyReport report) => new()
    {
        ["stack"] = stack,
        ["ok"] = report.Ok,
        ["hosts"] = new JsonArray([.. report.Hosts.Select(h => (JsonNode)new JsonObject
        {
            ["host"] = h.Host, ["ok"] = h.Ok, ["restarted"] = h.Changed, ["error"] = h.Error, ["checks"] = CallReport.Json(h.Health),
        })]),
        ["problems"] = Problems(report.Plan.Problems),
    };
}
