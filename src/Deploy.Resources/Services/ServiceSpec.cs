using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Core.Resources;

namespace Deploy.Resources;

/// <summary>A service: running and enabled at boot; restarted when a notifying resource changed; started when
/// its package was newly installed. Or one that must not run (<see cref="Running"/> false): stopped, and disabled
/// or masked, also right after the install of a package that starts it.</summary>
/// <param name="PidFile">When set, a restart is checked to have really replaced the process.</param>
public sealed record ServiceSpec(string Service) : ResourceSpec, IRestartable
{
    public string? PidFile { get; init; }
    public bool Enabled { get; init; } = true;
    public bool Running { get; init; } = true;

    /// <summary>systemd: linked to /dev/null, so that nothing starts it (implies stopped); sysv: disabled.</summary>
    public bool Masked { get; init; }

    /// <summary>Package (resource name) that provides the service; a fresh install starts it.</summary>
    public string? Package { get; init; }

    public override string Type => ResourceTypes.Service;
    public override ImmutableSortedDictionary<string, string> Identity => Ids.Of(("service", Service), ("pidfile", PidFile));

    bool IRestartable.MustRun => Running;

    (string Type, string Name)? IRestartable.BroughtBy => Package is null ? null : (ResourceTypes.Package, Package);

    /// <summary>Under systemd, its unit file (or its template's) and their drop-ins.</summary>
    bool IRestartable.DefinedBy(ResourceSpec changed, HostFacts facts) =>
        facts.InitSystem == "systemd" && changed is FileSpec file && SystemdUnits.Configures(file.Path, Service);

    /// <summary>Stopped, and masked or disabled, right after the install of its package (which starts and enables it).</summary>
    IEnumerable<PropertyChange> IRestartable.KeepDownAfterInstall(IReadOnlyList<PropertyChange> planned)
    {
        if (!planned.Any(c => c.Name == "running"))
            yield return new PropertyChange("running", null, $"no (package {Package} newly installed starts it)");
        if (Masked && !planned.Any(c => c.Name == "masked"))
            yield return new PropertyChange("masked", null, "yes");
        else if (!Masked && !Enabled && !planned.Any(c => c.Name == "enabled"))
            yield return new PropertyChange("enabled", null, $"no (package {Package} newly installed enables it)");
    }
}
