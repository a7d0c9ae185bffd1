using System.Collections.Immutable;
using Deploy.Core.Model;

namespace Deploy.Core.State;

/// <summary>One resource as last applied: identity (to read or delete it from state alone) and its live outputs.</summary>
public sealed record ResourceRecord(
    string Urn,
    string Type,
    string Host,
    string Name,
    ImmutableSortedDictionary<string, string> Identity,
    ImmutableSortedDictionary<string, string> Outputs)
{
    /// <summary>Set when the resource was on the host before nf-deploy first applied it (a brownfield host): what the
    /// host had then. Such a resource is adopted, not owned: destroy hands it back (<see cref="Resources.IAdoptable"/>)
    /// rather than deleting it. Null (every checkpoint written before adoption existed): owned.</summary>
    public ImmutableSortedDictionary<string, string>? Adopted { get; init; }
}

/// <summary>A host as last seen: its facts (for offline rendering) and whether it is a lab host.</summary>
public sealed record HostRecord(string Name, bool Lab, HostFacts Facts);

/// <summary>A restart made due by a change and not made yet: kept in the state so that the next run makes it even when
/// this one dies in between. The state file writes it <c>host:resource</c>.</summary>
public sealed record PendingRestart(string Host, string Resource)
{
    public override string ToString() => $"{Host}:{Resource}";

    public static PendingRestart Parse(string text)
    {
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 ? new PendingRestart(text[..colon], text[(colon + 1)..]) : throw new FormatException($"pending restart '{text}' is not host:resource");
    }
}

/// <summary>The stack's checkpoint: what was applied last, in apply order.</summary>
public sealed record StackState(
    string Stack,
    DateTimeOffset Updated,
    ImmutableArray<ResourceRecord> Resources,
    ImmutableSortedDictionary<string, HostRecord> Hosts,
    ImmutableArray<PendingRestart> PendingRestarts)
{
    public static StackState Empty(string stack) =>
        new(stack, DateTimeOffset.MinValue, [], ImmutableSortedDictionary<string, HostRecord>.Empty, []);

    public ResourceRecord? Find(string urn) => Resources.FirstOrDefault(r => r.Urn == urn);
}

/// <summary>Where checkpoints live. Writes are atomic; a lock keeps two runs off one stack.</summary>
public interface IStateStore
{
    Task<StackState> LoadAsync(string stack, CancellationToken ct);

    Task SaveAsync(StackState state, CancellationToken ct);

    Task DeleteAsync(string stack, CancellationToken ct);

    /// <summary>Takes the stack's lock or throws a DeployException naming who holds it.</summary>
    Task<IAsyncDisposable> LockAsync(string stack, string operation, CancellationToken ct);
}
