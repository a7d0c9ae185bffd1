using System.Collections.Immutable;
using Deploy.Core.Resources;

namespace Deploy.Resources;

/// <summary>
/// A host's TLS certificate and private key, issued by the site CA on the controller (Pulumi's tls provider:
/// <c>PrivateKey</c> + <c>LocallySignedCert</c>). It lives in the controller's PKI directory, not on the host: the
/// compiler reads what is kept there and decides whether it still fits (identity, addresses, expiry, CA, <c>--replace</c>);
/// when not, it issues a new pair in memory, which only <see cref="Issue"/> (run by <c>up</c>) writes down. The files that
/// carry the pair to the host are ordinary file resources of the same host, applied after this one.
/// </summary>
/// <param name="Subject">The certificate's CN (the host's identity).</param>
/// <param name="Outputs">What the wanted certificate is: fingerprint, subject, addresses, notAfter.</param>
public sealed record CertificateSpec(string Subject, ImmutableSortedDictionary<string, string> Outputs) : ResourceSpec
{
    /// <summary>The controller's PKI directory of the stack.</summary>
    public required string Store { get; init; }

    /// <summary>The certificate kept on the controller now (null: none, or none usable).</summary>
    public ImmutableSortedDictionary<string, string>? Kept { get; init; }

    /// <summary>Why the kept certificate does not do any more (identity changed, addresses changed, expiry within the
    /// renewal window, another CA, <c>--replace</c>); empty when it does.</summary>
    public ImmutableArray<PropertyChange> Reasons { get; init; } = [];

    /// <summary>Writes the new pair (and a new CA) to the PKI directory; null when the kept certificate stays.</summary>
    public ICertificateIssue? Issue { get; init; }

    public override string Type => ResourceTypes.Certificate;

    public override ImmutableSortedDictionary<string, string> Identity => Ids.Of(("store", Store), ("name", Name));

    public string Fingerprint => Outputs["fingerprint"];
}

/// <summary>A certificate issued in memory, written to the controller's PKI directory by <c>up</c> only.</summary>
public interface ICertificateIssue
{
    Task CommitAsync(CancellationToken ct);
}
