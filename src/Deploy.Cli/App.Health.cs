using Deploy.Cli.Output;
using Deploy.Core.Model;
using Deploy.Transport;
using Spectre.Console;

namespace Deploy.Cli;

public sealed partial class App
{
    /// <summary><c>./deploy health</c>: runs the site's health checks against the hosts as they are (read-only: no
    /// change, no state written). Exit 0 when every check passes, 1 otherwise.</summary>
    public async Task<int> HealthAsync(string stack, CancellationToken ct, bool json = false)
    {
        var site = await LoadSiteAsync(stack, ct);
        var state = await _state.LoadAsync(stack, ct);
        using var output = RunDisplay();
        using var lab = Lab(site, state, output);
        var engine = Engine(lab, new KnownHosts(ws.KnownHostsFile), output);
        var (hosts, problems) = await engine.HealthAsync(site, state, ct);
        output.Pause();
        var ok = problems.IsEmpty && hosts.All(h => h.Ok);
        if (json)
        {
            stdout.Write(Redact(VerbJson.Print(VerbJson.Health(stack, hosts, problems))));
            return ok ? ExitCodes.Ok : ExitCodes.Failed;
        }
        stdout.WriteLine($"Health ({stack}):");
        var table = Tables.New("HOST", "RESULT", "DETAIL");
        foreach (var h in hosts)
            table.AddRow(Tables.Cell(h.Host),
                Tables.Cell(h.Health.IsEmpty ? "no checks" : h.Ok ? "healthy" : "UNHEALTHY",
                    h.Health.IsEmpty ? null : h.Ok ? "green" : "red"),
                Tables.Cell(Redact(h.Ok ? $"{h.Health.Length} checks" :
                    string.Join("; ", h.Health.Where(x => !x.Result.Healthy).Select(x => $"{x.Check.Describe()}: {x.Result.Detail}")))));
        foreach (var p in problems) table.AddRow(Tables.Cell(p.Host), Tables.Cell("FAILED", "red"), Tables.Cell(Redact(p.Message)));
        Print(table);
        return ok ? ExitCodes.Ok : ExitCodes.Failed;
    }
}
