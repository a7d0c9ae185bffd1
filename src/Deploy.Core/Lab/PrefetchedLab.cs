using System.Collections.Immutable;

namespace Deploy.Core.Lab;

/// <summary>
/// A lab whose hosts were asked for ahead of time: the site's inventory names lab hosts, so which of them run is read
/// while the rest of the site loads (the passphrase's key derivation, a third of a second, takes longer than that read),
/// instead of after it. The read is the same local query of the lab, it contacts no host and changes nothing; a failed
/// one is reported where the read would have been. The first read of that stack is answered by it, the others by the lab.
/// </summary>
public sealed class PrefetchedLab(ILabProvider lab, string stack, Task<ImmutableArray<LabHostState>> read) : ILabProvider
{
    private int _used;

    public Task<ImmutableArray<LabHostState>> ReadAsync(string stack1, CancellationToken ct) =>
        stack1 == stack && Interlocked.Exchange(ref _used, 1) == 0 ? read.WaitAsync(ct) : lab.ReadAsync(stack1, ct);

    public Task<LabHostState> EnsureHostAsync(LabSpec spec, LabHostSpec host, CancellationToken ct) => lab.EnsureHostAsync(spec, host, ct);

    public Task DeleteHostAsync(string stack1, string name, CancellationToken ct) => lab.DeleteHostAsync(stack1, name, ct);

    public Task DestroyAsync(string stack1, CancellationToken ct) => lab.DestroyAsync(stack1, ct);
}
