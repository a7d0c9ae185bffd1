using System.Collections.Concurrent;
using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Core.State;

namespace Deploy.Core.Engine;

public sealed partial class DeployEngine
{
    /// <summary>Reads the hosts and runs every health check of the site as it is now (a host's own, then the site-wide
    /// ones), without applying anything: after a reboot, the site is proven to have come back by itself.</summary>
    public Task<HealthReport> HealthAsync(ISiteProgram site, StackState state, CancellationToken ct) =>
        HealthAsync(site, state, RunTargets.All, ct);

    /// <summary>The health checks of the targeted hosts only (the others are not contacted). Site-wide checks may reach
    /// every host (a call test reads each node's registrations): a targeted run skips them and counts them.</summary>
    public async Task<HealthReport> HealthAsync(ISiteProgram site, StackState state, RunTargets targets, CancellationToken ct)
    {
        await using var s = await PlanAsync(site, state, targets, ct);
        var outcomes = new ConcurrentBag<HostOutcome>();
        var skipped = 0;
        await System.Threading.Tasks.Parallel.ForEachAsync(s.Reads.Keys.ToArray(), Options(ct), async (host, token) =>
        {
            var run = new HostRun(s.Transports[host], s.Reads[host].Facts);
            deps.Log.Progress(new HostProgress(host, RunPhase.Health, $"{s.Desired[host].Health.Length} health checks"));
            var own = await CheckHealthAsync(s, host, run, token);
            var siteWide = ImmutableArray<(HealthCheckSpec Check, HealthResult Result)>.Empty;
            if (targets.Everything) siteWide = await CheckHealthAsync(s, host, run, token, siteWide: true);
            else Interlocked.Add(ref skipped, s.Desired[host].Health.Count(c => c.SiteWide));
            var outcome = new HostOutcome(host, 0, null, own.AddRange(siteWide));
            outcomes.Add(outcome);
            deps.Log.Progress(new HostProgress(host, outcome.Ok ? RunPhase.Done : RunPhase.Failed, outcome.Ok ? "healthy" : "unhealthy"));
        });
        var missing = s.Missing.Where(targets.Reaches).Select(h => new HostProblem(h, "the lab host does not exist (run up)"));
        return new HealthReport([.. outcomes.OrderBy(o => o.Host, StringComparer.Ordinal)],
            [.. s.Plan!.Problems.Concat(missing).OrderBy(p => p.Host, StringComparer.Ordinal)], skipped);
    }
}

/// <summary>What <c>./deploy health</c> found: each host's checks, the hosts that could not be checked, and how many
/// site-wide checks a targeted run left out.</summary>
public sealed record HealthReport(ImmutableArray<HostOutcome> Hosts, ImmutableArray<HostProblem> Problems, int SiteChecksSkipped);
