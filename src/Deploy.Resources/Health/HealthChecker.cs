using Deploy.Core.Model;
using Deploy.Core.Transport;

namespace Deploy.Resources.Health;

/// <summary>
/// Runs the health checks an NF declares, each by its kind of the registry (<see cref="HealthCheckKinds"/>: sip-options,
/// command, tcp, diameter, gtpv2-echo, call; one file each in Kinds/), retried until it passes or the timeout ends.
/// </summary>
public sealed class HealthChecker(HealthCheckKinds kinds) : IHealthChecker
{
    /// <summary>With the built-in kinds.</summary>
    public HealthChecker() : this(HealthCheckKinds.BuiltIn) { }

    /// <summary>The names of the built-in kinds.</summary>
    public static IReadOnlySet<string> Kinds { get; } = HealthCheckKinds.BuiltIn.Names.ToHashSet();

    public async Task<HealthResult> CheckAsync(HealthCheckSpec check, IHostTransport transport, TimeSpan timeout, CancellationToken ct)
    {
        var kind = kinds.Find(check.Kind);
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var last = kind is null
                ? new HealthResult(false, $"unknown health check kind {check.Kind}")
                : await kind.RunOnceAsync(check, transport, ct);
            if (last.Healthy || DateTime.UtcNow >= deadline) return last;
            await Task.Delay(kind?.RetryDelay ?? TimeSpan.FromMilliseconds(500), ct);
        }
    }
}
