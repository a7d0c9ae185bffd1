using System.Text.Json;
using System.Text.Json.Nodes;
using Deploy.Core.Engine;

namespace Deploy.Cli;

/// <summary>Where a run's time went: printed by -v on stderr (one line per phase), and as <c>timings</c> in --json.</summary>
public static class RunTimings
{
    public static void Print(TextWriter stderr, RunReport report)
    {
        foreach (var line in report.Lines()) stderr.WriteLine(line);
    }

    /// <summary>The JSON document with a <c>timings</c> member: phases (ms), SSH counters, controller CPU and memory.</summary>
    public static string With(string json, RunReport report)
    {
        var doc = JsonNode.Parse(json)!.AsObject();
        var phases = new JsonObject();
        foreach (var p in report.Phases)
            phases[p.Name] = new JsonObject { ["ms"] = Ms(p.Wall), ["sumMs"] = Ms(p.Sum), ["count"] = p.Count };
        doc["timings"] = new JsonObject
        {
            ["phases"] = phases,
            ["hosts"] = report.Hosts,
            ["sshConnections"] = report.Connections,
            ["roundTrips"] = report.RoundTrips,
            ["mostRoundTripsOnOneHost"] = report.MostRoundTrips,
            ["cpuMs"] = Ms(report.Cpu),
            ["startupCpuMs"] = Ms(report.StartupCpu),
            ["cpuPerHostMs"] = Math.Round(report.CpuPerHost.TotalMilliseconds, 1),
            ["peakRssMb"] = report.PeakRssBytes / (1024 * 1024),
            ["wallMs"] = Ms(report.Wall),
        };
        return doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static long Ms(TimeSpan t) => (long)t.TotalMilliseconds;
}
