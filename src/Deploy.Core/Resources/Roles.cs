using System.Collections.Immutable;
using Deploy.Core.Model;

namespace Deploy.Core.Resources;

/// <summary>A resource whose change restarts resources of its host (a config file, a database row the daemon reads at
/// start).</summary>
public interface INotifying
{
    /// <summary>The resources (by name) to restart when this resource changes.</summary>
    ImmutableArray<string> Notify { get; }
}

/// <summary>A resource the engine restarts or starts because of other steps of its host (a service).</summary>
public interface IRestartable
{
    /// <summary>False for a resource that must not run: it is never started, only kept down.</summary>
    bool MustRun { get; }

    /// <summary>The resource (type, name) whose fresh install starts it, if any (a service's package).</summary>
    (string Type, string Name)? BroughtBy { get; }

    /// <summary>True when a change of <paramref name="changed"/> makes the init system read this resource's definition
    /// again before it restarts (a systemd unit file or drop-in of the service).</summary>
    bool DefinedBy(ResourceSpec changed, HostFacts facts);

    /// <summary>For a resource that must not run, the changes that keep it down right after the install that brought (and
    /// started) it, given the changes already planned.</summary>
    IEnumerable<PropertyChange> KeepDownAfterInstall(IReadOnlyList<PropertyChange> planned);
}
