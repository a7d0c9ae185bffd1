using System.Collections.Immutable;
using Deploy.Core.Lab;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Core.Transport;

namespace Deploy.Core.Engine;

/// <summary>A host of the site: how to reach it, and whether this program creates it as a lab host.</summary>
/// <param name="AssumedFacts">Facts known without asking the host (lab hosts, inventory-declared facts), used for
/// offline rendering and for hosts that do not exist yet.</param>
public sealed record HostTarget(string Name, HostConnection Connection, LabHostSpec? Lab, HostFacts? AssumedFacts);

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
