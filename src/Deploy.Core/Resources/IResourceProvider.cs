using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Core.Transport;

namespace Deploy.Core.Resources;

/// <summary>Pulumi's step operations.</summary>
public enum StepOp { Same, Create, Update, Replace, Delete }

public static class StepOps
{
    /// <summary>The mark Pulumi prints before a step: + create, ~ update, +- replace, - delete.</summary>
    public static string Symbol(this StepOp op) => op switch
    {
        StepOp.Create => "+",
        StepOp.Update => "~",
        StepOp.Replace => "+-",
        StepOp.Delete => "-",
        _ => " ",
    };
}

public sealed record PropertyChange(string Name, string? Before, string? After);

/// <summary>What must change for a resource: the result of a pure Diff, plus the triggers the engine adds (restarts
/// that other steps of the host cause).</summary>
public sealed record ResourceDiff(StepOp Op, ImmutableArray<PropertyChange> Changes)
{
    public static readonly ResourceDiff Same = new(StepOp.Same, []);

    public ImmutableArray<StepTrigger> Triggers { get; init; } = [];

    public bool Has(string property) => Changes.Any(c => c.Name == property);

    public bool Has(TriggerKind trigger) => Triggers.Has(trigger);
}

/// <summary>Live properties of a resource as read from the host (absent resources have no LiveState).</summary>
public sealed record LiveState(ImmutableSortedDictionary<string, string> Props)
{
    public string? this[string key] => Props.GetValueOrDefault(key);

    public static LiveState Of(IEnumerable<KeyValuePair<string, string>> props) =>
        new(props.ToImmutableSortedDictionary(StringComparer.Ordinal));
}

/// <summary>Per-host run state shared by the providers during one apply (e.g. apt's package index is stale).</summary>
public sealed class HostRun(IHostTransport transport, HostFacts facts)
{
    public IHostTransport Transport { get; } = transport;
    public HostFacts Facts { get; } = facts;

    /// <summary>Names this run's backups (<c>&lt;file&gt;.&lt;RunId&gt;.nfd~</c>), so that a rollback finds them.</summary>
    public string RunId { get; init; } = DateTime.UtcNow.ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Set when a key or repository changed: the next package install runs apt-get update first.</summary>
    public bool AptIndexStale { get; set; }

    /// <summary>Files this run wrote, in order, with what a rollback needs.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<FileChange> Written { get; } = new();
}

/// <summary>A file written by a run: restored from <see cref="Backup"/>, or removed when it did not exist before.</summary>
public sealed record FileChange(string Path, string? Backup, bool InPlace);

/// <summary>
/// A resource type's provider: Read (a probe that runs inside the host's single read round trip), a pure Diff,
/// Apply and Delete. Probes print <c>key=value</c> lines.
/// </summary>
public interface IResourceProvider
{
    string Type { get; }

    /// <summary>POSIX sh that prints the live state as key=value lines; it must not change the host.</summary>
    string Probe(ImmutableSortedDictionary<string, string> identity);

    /// <summary>
    /// Optional: one script that reads many resources of this type at once, so that a host with many files forks a
    /// few processes rather than a few per file. Null: each is probed on its own. Its output goes, line by line, to
    /// <see cref="ParseMany"/>.
    /// </summary>
    string? ProbeMany(IReadOnlyList<ImmutableSortedDictionary<string, string>> identities) => null;

    /// <summary>Splits the output of <see cref="ProbeMany"/> into one key=value set per identity, in order.</summary>
    IReadOnlyList<IReadOnlyDictionary<string, string>> ParseMany(IReadOnlyList<ImmutableSortedDictionary<string, string>> identities, IReadOnlyList<string> lines) =>
        throw new NotSupportedException($"{Type} does not probe in batches");

    /// <summary>Turns the probe's output into live state; null means the resource is absent.</summary>
    LiveState? Parse(ResourceSpec desired, IReadOnlyDictionary<string, string> values, HostFacts facts);

    /// <summary>Pure: desired vs live.</summary>
    ResourceDiff Diff(ResourceSpec desired, LiveState? live);

    /// <summary>Makes the host match; returns the live state after the change.</summary>
    Task<LiveState> ApplyAsync(ResourceSpec desired, ResourceDiff diff, HostRun run, CancellationToken ct);

    /// <summary>Removes the resource identified by <paramref name="identity"/> (from the state file).</summary>
    Task DeleteAsync(ImmutableSortedDictionary<string, string> identity, HostRun run, CancellationToken ct);
}
