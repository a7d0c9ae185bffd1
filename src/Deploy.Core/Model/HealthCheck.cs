using System.Collections.Immutable;
using Deploy.Core.Transport;

namespace Deploy.Core.Model;

/// <summary>A health check declared by an NF, rendered for one host.</summary>
/// <param name="Kind">A kind of the registry that reads and runs it (Deploy.Resources.Health.HealthCheckKinds: sip-options,
/// command, tcp, diameter, gtpv2-echo, call).</param>
public sealed record HealthCheckSpec(string Host, string Nf, string Kind, ImmutableSortedDictionary<string, string> Args)
{
    /// <summary>A site check depends on other hosts too (peers in STATE_OPEN): it runs once every host is rolled out and
    /// never triggers a rollback, since a host cannot be healthy alone while its peers are mid-change.</summary>
    public bool SiteWide { get; init; }

    /// <summary>A call through the site (its kind says so): <c>./deploy test</c> runs it too, and reports it step by step.</summary>
    public bool CallTest { get; init; }

    /// <summary>For reports: what is checked where (credentials and identities of the check itself are left out).</summary>
    public string Describe() => CallTest
        ? $"{Nf} {Kind} {Args.GetValueOrDefault("name")}"
        : $"{Nf} {Kind} " + string.Join(" ", Args
            .Where(a => !a.Key.StartsWith("tls_", StringComparison.Ordinal) && !a.Key.StartsWith("origin_", StringComparison.Ordinal))
            .Select(a => $"{a.Key}={a.Value}"));
}

public sealed record HealthResult(bool Healthy, string Detail)
{
    /// <summary>A call test's steps, each with its result and duration (empty for the other kinds).</summary>
    public ImmutableArray<CallStepResult> Steps { get; init; } = [];
}

public interface IHealthChecker
{
    /// <summary>Runs one check, retrying until <paramref name="timeout"/>.</summary>
    Task<HealthResult> CheckAsync(HealthCheckSpec check, IHostTransport transport, TimeSpan timeout, CancellationToken ct);
}
