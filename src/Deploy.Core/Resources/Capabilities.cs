using System.Collections.Immutable;
using Deploy.Core.Engine;

namespace Deploy.Core.Resources;

// Optional capabilities of a provider, found by the engine through these interfaces.

/// <summary>A provider that can put back what a run wrote on a host (the file provider: backups restored, new files
/// removed). Idempotent: it undoes what <see cref="HostRun.Written"/> holds.</summary>
public interface IRollback
{
    Task RollbackAsync(HostRun run, CancellationToken ct);
}

/// <summary>A provider whose resources have a content a preview shows as a unified diff (never a secret's).</summary>
public interface IContentDiff
{
    /// <summary>How to fetch the live content and what it should be; null when no diff may be shown.</summary>
    ContentView? View(ResourceSpec desired);
}

/// <summary>A resource's content for a preview diff.</summary>
/// <param name="FetchBase64">POSIX sh that prints the live content as one base64 line; every site value in it quoted.</param>
/// <param name="Desired">The content wanted.</param>
/// <param name="Label">What the diff's header names (the file's path).</param>
public sealed record ContentView(string FetchBase64, string Desired, string Label);

/// <summary>A provider whose live state holds properties that change without anyone changing the resource (a restarted
/// daemon's pid, an mtime): refresh reports no drift for them.</summary>
public interface IVolatileProperties
{
    bool IsVolatile(string property);
}

/// <summary>A provider that writes some of its resources of one host together, as one change (files validated with each
/// other in place, then moved at once).</summary>
public interface IApplyTogether
{
    /// <summary>For each changing step of this provider's type that belongs to a set of two or more, the whole set's
    /// changing steps in order. The set is applied at its last step's position.</summary>
    ImmutableDictionary<string, ImmutableArray<PlanStep>> SetsOf(IReadOnlyList<PlanStep> hostSteps);

    /// <summary>Applies a set (all or nothing); returns each member's live state, in order.</summary>
    Task<ImmutableArray<LiveState>> ApplySetAsync(IReadOnlyList<(ResourceSpec Spec, ResourceDiff Diff)> set, HostRun run, CancellationToken ct);
}

/// <summary>
/// A provider whose resources may be on a host before nf-deploy first applies them (a brownfield host: a package
/// installed by hand, a hand-written config). Such a resource is adopted, not owned: the engine records what the host
/// had (<see cref="State.ResourceRecord.Adopted"/>), and destroy — or the resource leaving the site — hands it back
/// with <see cref="ReleaseAsync"/> instead of deleting it.
/// </summary>
public interface IAdoptable
{
    /// <summary>Pure: whether the live state read before the first apply shows the resource already there.</summary>
    bool Existed(LiveState live);

    /// <summary>Runs before the first apply of an adopted resource (in <c>up</c>, never in preview): keeps on the host
    /// what <see cref="ReleaseAsync"/> puts back (a file's original, in a root of nf-deploy's only root can read).</summary>
    Task KeepOriginalAsync(ResourceSpec desired, HostRun run, CancellationToken ct);

    /// <summary>Instead of a delete: leaves the resource (a package stays installed) or puts the original back (a file,
    /// a service's boot and running state). <paramref name="original"/> is the live state recorded at adoption.</summary>
    Task ReleaseAsync(ImmutableSortedDictionary<string, string> identity, ImmutableSortedDictionary<string, string> original,
        HostRun run, CancellationToken ct);
}
