using Deploy.Core.Engine;
using Spectre.Console;

namespace Deploy.Cli.Output;

/// <summary>The end of an <c>up</c>: per host how it ended (a table on a terminal, one line per host elsewhere, the form
/// scripts grep: <c>kamailio-1: ok, 2 changed, healthy</c>), the services restarted and started for the first time,
/// and where the run's logs are.</summary>
public static class RunSummary
{
    public static void Write(TextWriter writer, bool terminal, ConsoleMode mode, ApplyReport report, Func<string, string> redact)
    {
        if (terminal)
        {
            var table = Tables.New("HOST", "RESULT", "CHANGED", "RESTARTS", "FIRST STARTS", "HEALTH");
            foreach (var h in report.Hosts)
                table.AddRow(Tables.Cell(h.Host),
                    Tables.Cell(redact(h.Ok ? "ok" : "FAILED" + (h.Error is null ? "" : $": {h.Error}")), h.Ok ? "green" : "red"),
                    Tables.Cell($"{h.Changed}"), Tables.Cell($"{h.Restarts}"), Tables.Cell($"{h.Starts}"),
                    Tables.Cell(redact(Health(h) ?? "-"), Health(h) is null or "healthy" ? null : "red"));
            foreach (var p in report.Plan.Problems)
                table.AddRow(Tables.Cell(p.Host), Tables.Cell(redact($"FAILED: {p.Message}"), "red"),
                    Tables.Cell("0"), Tables.Cell("0"), Tables.Cell("0"), Tables.Cell("-"));
            Tables.Write(writer, terminal, mode, table);
        }
        else
        {
            foreach (var h in report.Hosts)
                writer.WriteLine(redact($"{h.Host}: {(h.Ok ? "ok" : "FAILED")}, {h.Changed} changed" +
                    (h.Error is null ? "" : $": {h.Error}") +
                    (Health(h) is { } health ? ", " + health : "")));
            foreach (var p in report.Plan.Problems) writer.WriteLine(redact($"{p.Host}: FAILED: {p.Message}"));
        }
        writer.WriteLine(Starts(report.Hosts));
    }

    /// <summary>Restarts told from first starts: <c>Services: 2 restarts, 16 first starts</c>.</summary>
    public static string Starts(IEnumerable<HostOutcome> hosts)
    {
        var (restarts, starts) = hosts.Aggregate((0, 0), (sum, h) => (sum.Item1 + h.Restarts, sum.Item2 + h.Starts));
        return $"Services: {Count(restarts, "restart")}, {Count(starts, "first start")}";
    }

    /// <summary>Where the run's log files are, relative to the project.</summary>
    public static string LogsAt(string projectDir, string dir) =>
        $"Logs: {Path.GetRelativePath(projectDir, dir)}/<host>.log (every script's output, secrets masked)";

    private static string? Health(HostOutcome h) =>
        h.Health.IsEmpty ? null : h.Health.All(x => x.Result.Healthy) ? "healthy" :
            "unhealthy: " + string.Join("; ", h.Health.Where(x => !x.Result.Healthy)
                .Select(x => $"{x.Check.Describe()}: {x.Result.Detail}"));

    private static string Count(int n, string what) => $"{n} {what}{(n == 1 ? "" : "s")}";
}
