using Deploy.Core.Model;
using Deploy.Transport;

namespace Deploy.Cli;

public sealed partial class App
{
    /// <summary><c>./deploy health</c>: runs the site's health checks against the hosts as they are (read-only: no
    /// change, no state written). Exit 0 when every check passes, 1 otherwise.</summary>
    public async Task<int> HealthAsync(string stack, CancellationToken ct, bool json = false)
    {
        var site = await LoadSiteAsync(stack, ct);
        var state = await _state.LoadAsync(stack, ct);
        using var lab = Lab(site, state);
        var engine = Engine(lab, new KnownHosts(ws.KnownHostsFile));
        var (hosts, problems) = await engine.HealthAsync(site, state, ct);
        var ok = problems.IsEmpty && hosts.All(h => h.Ok);
        if (json)
        {
            stdout.Write(Redact(VerbJson.Print(VerbJson.Health(stack, hosts, problems))));
            return ok ? ExitCodes.Ok : ExitCodes.Failed;
        }
        stdout.WriteLine($"Health ({stack}):");
        foreach (var h in hosts)
            stdout.WriteLine(Redact($"{h.Host}: " + (h.Health.IsEmpty ? "no health checks" : h.Ok ? $"healthy ({h.Health.Length} checks)" :
                "UNHEALTHY: " + string.Join("; ", h.Health.Where(x => !x.Result.Healthy).Select(x => $"{x.Check.Describe()}: {x.Result.Detail}")))));
        foreach (var p in problems) stdout.WriteLine(Redact($"{p.Host}: FAILED: {p.Message}"));
        return ok ? ExitCodes.Ok : ExitCodes.Failed;
    }
}
