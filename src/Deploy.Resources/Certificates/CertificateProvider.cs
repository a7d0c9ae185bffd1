using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Core.Resources;

namespace Deploy.Resources;

/// <summary>
/// Certificates of the site CA (<see cref="CertificateSpec"/>). Their live state is the controller's PKI directory, which
/// the compiler has already read: nothing is probed on the host. Diff is pure: the kept certificate against the wanted
/// one. Apply writes the pair issued in memory to the PKI directory (the files carrying it to the host come next).
/// Delete keeps the controller's copy (a host that comes back with the same identity gets it again).
/// </summary>
public sealed class CertificateProvider : ResourceProvider<CertificateSpec>
{
    public override string Type => ResourceTypes.Certificate;

    public override string Probe(ImmutableSortedDictionary<string, string> identity) => "";

    public override LiveState? Parse(CertificateSpec desired, IReadOnlyDictionary<string, string> values, HostFacts facts) =>
        desired.Kept is { } kept ? new LiveState(kept) : null;

    public override ResourceDiff Diff(CertificateSpec desired, LiveState? live)
    {
        var c = desired;
        if (live is null) return new ResourceDiff(StepOp.Create, c.Reasons.IsEmpty ? [new PropertyChange("certificate", null, c.Subject)] : c.Reasons);
        if (live["fingerprint"] == c.Fingerprint) return ResourceDiff.Same;
        return new ResourceDiff(StepOp.Replace, c.Reasons.IsEmpty ? [new PropertyChange("fingerprint", live["fingerprint"], c.Fingerprint)] : c.Reasons);
    }

    public override async Task<LiveState> ApplyAsync(CertificateSpec desired, ResourceDiff diff, HostRun run, CancellationToken ct)
    {
        var c = desired;
        if (c.Issue is null)
            throw new ResourceException(run.Transport.HostName, c.Name, "the certificate to write was not issued (the plan is stale): run up again");
        await c.Issue.CommitAsync(ct);
        return new LiveState(c.Outputs);
    }

    public override Task DeleteAsync(ImmutableSortedDictionary<string, string> identity, HostRun run, CancellationToken ct) => Task.CompletedTask;
}
