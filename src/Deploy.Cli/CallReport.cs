using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Deploy.Core.Model;

namespace Deploy.Cli;

/// <summary>The call tests' results for people (a line per test, a line per step with its duration) and for --json.</summary>
public static class CallReport
{
    public static string Text(IEnumerable<(HealthCheckSpec Check, HealthResult Result)> tests)
    {
        var b = new StringBuilder();
        foreach (var (check, result) in tests.Where(t => t.Check.CallTest))
        {
            b.AppendLine($"{check.Host}: {check.Describe()}: {(result.Healthy ? "passed" : "FAILED")} ({result.Steps.Sum(s => s.Milliseconds)} ms)");
            foreach (var s in result.Steps)
                b.AppendLine($"    {(s.Ok ? "ok  " : "FAIL")} {(s.Cleanup ? "cleanup: " : "")}{s.Name} ({s.Milliseconds} ms){(s.Ok ? ": " + FirstLine(s.Detail) : "")}");
            if (!result.Healthy) b.AppendLine(Indent(result.Detail));
        }
        return b.ToString();
    }

    public static JsonArray Json(IEnumerable<(HealthCheckSpec Check, HealthResult Result)> checks) =>
        new([.. checks.Select(c => (JsonNode)new JsonObject
        {
            ["host"] = c.Check.Host,
            ["nf"] = c.Check.Nf,
            ["kind"] = c.Check.Kind,
            ["check"] = c.Check.Describe(),
            ["ok"] = c.Result.Healthy,
            ["detail"] = c.Result.Detail,
            ["milliseconds"] = c.Result.Steps.Sum(s => s.Milliseconds),
            ["steps"] = new JsonArray([.. c.Result.Steps.Select(s => (JsonNode)new JsonObject
            {
                ["name"] = s.Name, ["ok"] = s.Ok, ["milliseconds"] = s.Milliseconds, ["cleanup"] = s.Cleanup, ["detail"] = s.Detail,
            })]),
        })]);

    /// <summary><c>./deploy test --json</c>.</summary>
    public static string Document(string stack, IEnumerable<(HealthCheckSpec Check, HealthResult Result)> tests) =>
        new JsonObject { ["stack"] = stack, ["tests"] = Json(tests) }.ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    /// <summary><c>up --json</c>: the plan, with every host's health results (call tests with their steps) added.</summary>
    public static string WithHealth(string planJson, IEnumerable<(HealthCheckSpec Check, HealthResult Result)> health)
    {
        var doc = JsonNode.Parse(planJson)!.AsObject();
        doc["health"] = Json(health);
        return doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static string FirstLine(string s) => s.Split('\n')[0];

    private static string Indent(string s) => string.Join('\n', s.Split('\n').Select(l => "    " + l));
}
