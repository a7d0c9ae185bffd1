using System.Collections.Concurrent;
using System.Collections.Immutable;
using Deploy.Core.Resources;
using Deploy.Core.State;

namespace Deploy.Core.Engine;

public sealed partial class DeployEngine
{
    /// <summary>Reads the hosts and runs every health check of the site as it is now (a host's own, then the site-wide
    /// ones), without applying anything: after a reboot, the site is proven to have come back by itself.</summary>
    public async Task<(ImmutableArray<HostOutcome> Hosts, ImmutableArray<HostProblem> Problems)> HealthAsync(
        ISiteProgram site, StackState state, CancellationToken ct)
    {
        await using var s = await PlanAsync(site, state, ct);
        var outcomes = new ConcurrentBag<HostOutcome>();
        await System.Threading.Tasks.Parallel.ForEachAsync(s.Reads.Keys.ToArray(), Options(ct), async (host, token) =>
        {
            var run = new HostRun(s.Transports[host], s.Reads[host].Facts);
            deps.Log.Progress(new HostProgress(host, RunPhase.Health, $"{s.Desired[host].Health.Length} health checks"));
            var own = await CheckHealthAsync(s, host, run, token);
            var siteWide = await CheckHealthAsync(s, host, run, token, siteWide: true);
            var outcome = new HostOutcome(host, 0, null, own.AddRange(siteWide));
            outcomes.Add(outcome);
            deps.Log.Progress(new HostProgress(host, outcome.Ok ? RunPhase.Done : RunPhase.Failed, outcome.Ok ? "healthy" : "unhealthy"));
        });
        var missing = s.Missing.Select(h => new HostProblem(h, "the lab host does not exist (run up)"));
        return ([.. outcomes.OrderBy(o => o.Host, StringComparer.Ordinal)], [.. s.Plan!.Problems.Concat(missing).OrderBy(p => p.Host, StringComparer.Ordinal)]);
    }
}
