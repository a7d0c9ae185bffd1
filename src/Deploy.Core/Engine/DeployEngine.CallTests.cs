using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Core.Transport;

namespace Deploy.Core.Engine;

public sealed partial class DeployEngine
{
    /// <summary>
    /// <c>./deploy test</c>: runs the site's call tests (health checks whose kind is a call test) once each, against the live
    /// hosts of a planned session, without applying anything. A test declared on a host that could not be read fails
    /// with that host's problem.
    /// </summary>
    public async Task<ImmutableArray<(HealthCheckSpec Check, HealthResult Result)>> CallTestsAsync(PlanSession s, CancellationToken ct)
    {
        var results = new List<(HealthCheckSpec, HealthResult)>();
        foreach (var (host, desired) in s.Desired.OrderBy(d => d.Key, StringComparer.Ordinal))
            foreach (var check in desired.Health.Where(c => c.CallTest))
            {
                deps.Log.Host(host, "call test: " + check.Describe());
                var result = s.Transports.TryGetValue(host, out var t)
                    ? await deps.Health.CheckAsync(check, new SiteTransport(t, s.Transports), TimeSpan.Zero, ct)
                    : new HealthResult(false, $"host {host} was not reached: {s.Problems.GetValueOrDefault(host, "no connection")}");
                deps.Log.Host(host, (result.Healthy ? "passed: " : "FAILED: ") + check.Describe() + (result.Healthy ? "" : " — " + result.Detail));
                results.Add((check, result));
            }
        return [.. results];
    }
}
