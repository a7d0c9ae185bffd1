using Deploy.Cli.Output;
using Deploy.Core.Model;
using Deploy.Transport;
using Spectre.Console;

namespace Deploy.Cli;

public sealed partial class App
{
    /// <summary><c>./deploy health</c>: runs the site's health checks against the hosts as they are (read-only: no
    /// change, no state written). Exit 0 when every check passes, 1 otherwise.</summary>
    /// <param name="target">Hosts, groups or URNs (<c>--target</c>): only their hosts are checked, without site-wide checks.</param>
    public async Task<int> HealthAsync(string stack, CancellationToken ct, bool json = false, IReadOnlyCollection<string>? target = null)
    {
        var site = await LoadSiteAsync(stack, ct);
        var targets = Targets(site, target);
        var state = await _state.LoadAsync(stack, ct);
        using var output = RunDisplay();
        using var lab = Lab(site, state, output);
        var engine = Engine(lab, new KnownHosts(ws.KnownHostsFile), output);
        var (hosts, problems, skipped) = await engine.HealthAsync(site, state, targets, ct);
        output.Pause();
        if (skipped > 0)
            stderr.WriteLine($"note: {skipped} site-wide check{(skipped == 1 ? " was" : "s were")} not run (call tests, peers across the cluster): " +
                "a targeted run does not reach every host; ./deploy health without --target runs them");
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
