using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Core.Resources;

namespace Deploy.Resources;

/// <summary>
/// The base of a provider for one kind of spec: the engine hands it <see cref="ResourceSpec"/>s, and the cast to
/// <typeparamref name="TSpec"/> is made once, here, with a clear error for a spec of another kind.
/// </summary>
public abstract class ResourceProvider<TSpec> : IResourceProvider where TSpec : ResourceSpec
{
    public abstract string Type { get; }

    public abstract string Probe(ImmutableSortedDictionary<string, string> identity);

    public virtual string? ProbeMany(IReadOnlyList<ImmutableSortedDictionary<string, string>> identities) => null;

    public virtual IReadOnlyList<IReadOnlyDictionary<string, string>> ParseMany(
        IReadOnlyList<ImmutableSortedDictionary<string, string>> identities, IReadOnlyList<string> lines) =>
        throw new NotSupportedException($"{Type} does not probe in batches");

    public abstract LiveState? Parse(TSpec desired, IReadOnlyDictionary<string, string> values, HostFacts facts);

    public abstract ResourceDiff Diff(TSpec desired, LiveState? live);

    public abstract Task<LiveState> ApplyAsync(TSpec desired, ResourceDiff diff, HostRun run, CancellationToken ct);

    public abstract Task DeleteAsync(ImmutableSortedDictionary<string, string> identity, HostRun run, CancellationToken ct);

    LiveState? IResourceProvider.Parse(ResourceSpec desired, IReadOnlyDictionary<string, string> values, HostFacts facts) =>
        Parse(Cast(desired), values, facts);

    ResourceDiff IResourceProvider.Diff(ResourceSpec desired, LiveState? live) => Diff(Cast(desired), live);

    Task<LiveState> IResourceProvider.ApplyAsync(ResourceSpec desired, ResourceDiff diff, HostRun run, CancellationToken ct) =>
        ApplyAsync(Cast(desired), diff, run, ct);

    protected TSpec Cast(ResourceSpec spec) =>
        spec as TSpec ?? throw new DeployException($"the {Type} provider cannot handle {spec.Type} {spec.Name} (a {spec.GetType().Name})");
}
