using System.Collections.Immutable;
using Deploy.Core.Lab;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Core.Transport;

namespace Deploy.Core.Engine;

/// <summary>A host of the site: how to reach it, and whether this program creates it as a lab host.</summary>
/// <param name="AssumedFacts">Facts known without asking the host (lab hosts, inventory-declared facts), used for
/// offline rendering and for hosts that do not exist yet.</param>
public sealed record HostTarget(string Name, HostConnection Connection, LabHostSpec? Lab, HostFacts? AssumedFacts)
{
    /// <summary>How the host's group rolls out changes that restart running services.</summary>
    public RolloutPolicy Rollout { get; init; } = RolloutPolicy.Default(Name);

    /// <summary>The inventory groups and roles the host is in: <c>--target &lt;group&gt;</c> reaches every host of one.</summary>
    public ImmutableArray<string> Groups { get; init; } = [];

    /// <summary>The facts to render the host with: those read from it (this run's, or the last run's), else those known
    /// without asking it (<see cref="AssumedFacts"/>), else a plain Debian host at its address. The one fallback.</summary>
    public HostFacts FactsOrAssumed(HostFacts? read = null) =>
        read ?? AssumedFacts ?? HostFacts.Assumed(Name, Connection.Endpoint.Address);

    /// <summary>Which of <see cref="FactsOrAssumed"/>'s three sources the facts come from.</summary>
    public FactsSource SourceOf(HostFacts? read = null) =>
        read is not null ? FactsSource.Read : AssumedFacts is not null ? FactsSource.Known : FactsSource.Assumed;
}

/// <summary>Where a host's facts come from: read from it, known without asking (declared, or a lab host this program
/// makes), or assumed (a plain Debian host at its address).</summary>
public enum FactsSource { Read, Known, Assumed }

/// <summary>
/// Rolling batches: the hosts of one group whose services a run restarts go <paramref name="Batch"/> at a time
/// ("1", or a percentage like "50%"); the rollout of the group stops when more than <paramref name="MaxFailPercent"/>
/// of its hosts failed. Hosts that restart nothing (and new hosts) are not batched.
/// </summary>
public sealed record RolloutPolicy(string Group, string Batch, int MaxFailPercent)
{
    public static RolloutPolicy Default(string host) => new(host, "1", 0);

    public int BatchSize(int hosts) =>
        Batch.EndsWith('%') && int.TryParse(Batch[..^1], out var pct) ? Math.Max(1, (int)Math.Ceiling(hosts * pct / 100.0))
        : int.TryParse(Batch, out var n) && n > 0 ? n : 1;
}

/// <summary>Everything one host must have: resources in apply order, and the health checks of its NFs.</summary>
public sealed record HostDesired(string Host, ImmutableArray<ResourceSpec> Resources, ImmutableArray<HealthCheckSpec> Health);

/// <summary>A compiled site, ready to be rendered for a set of host facts.</summary>
public interface ISiteProgram
{
    string Stack { get; }

    /// <summary>The lab network, when the site has lab hosts.</summary>
    LabSpec? Lab { get; }

    ImmutableArray<HostTarget> Hosts { get; }

    /// <summary>Renders every host's resources from the facts of all hosts (templates may look at other hosts).
    /// Throws <see cref="SiteErrors"/> with file:line and host for template errors.</summary>
    ImmutableArray<HostDesired> Materialize(IReadOnlyDictionary<string, HostFacts> facts, CancellationToken ct);
}
