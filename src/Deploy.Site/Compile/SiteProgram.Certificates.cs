using System.Collections.Concurrent;
using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Core.Resources;

namespace Deploy.Site.Compile;

/// <summary>Certificates as planned resources: each host's certificate of the site CA is a resource of its plan
/// (<see cref="CertificateSpec"/>), applied before the files that carry it.</summary>
public sealed partial class SiteProgram
{
    private readonly ConcurrentDictionary<string, CertificateSpec> _certificateResources = new(StringComparer.Ordinal);

    /// <summary>The renewal window (setting tlsRenewDays) and the certificates <c>--replace</c> asks to re-issue.</summary>
    public Pki.CertificatePolicy CertificatePolicy { get; private set; } = Pki.CertificatePolicy.Default;

    private static Pki.CertificatePolicy PolicyOf(Model.StackConfig config) => config.Values.GetValueOrDefault("tlsRenewDays") switch
    {
        long d when d >= 0 => new Pki.CertificatePolicy((int)Math.Min(d, 100_000), []),
        null => Pki.CertificatePolicy.Default,
        var v => throw new DeployException($"tlsRenewDays must be a number of days (0 or more), not '{v}'"),
    };

    /// <summary>The host's certificate resource, when its templates used the site CA's certificate.</summary>
    private CertificateSpec? CertificateOf(string host) => _certificateResources.GetValueOrDefault(host);

    private Pki.HostCertificate Planned(Pki.HostCertificate cert)
    {
        if (cert.Resource is { } r && r.Host != "nf-deploy") _certificateResources[r.Host] = r;
        return cert;
    }

    /// <summary>The URN of a host's certificate, as <c>preview</c> shows it and <c>--replace</c> takes it.</summary>
    public string CertificateUrn(string host) => $"urn:pulumi:{Stack}::nf-deploy::{ResourceTypes.Certificate}::{host}:tls";

    /// <summary>
    /// Pulumi's <c>--replace URN</c>: the certificates named are re-issued by this run. Must be called before the site
    /// is rendered. Only certificates can be replaced; any other URN (or one of no host of the site) is refused.
    /// </summary>
    public void Replace(IReadOnlyCollection<string> urns)
    {
        if (_certificates.IsValueCreated) throw new InvalidOperationException("Replace must come before the site is rendered");
        var hosts = ImmutableHashSet.CreateBuilder<string>(StringComparer.Ordinal);
        foreach (var urn in urns)
        {
            var host = Managed.Select(h => h.Name).FirstOrDefault(h => CertificateUrn(h) == urn);
            if (host is null)
                throw new DeployException($"--replace {urn}: no such certificate in stack {Stack}; certificates are " +
                    $"{CertificateUrn("<host>")} (preview --json lists every URN); only certificates can be replaced");
            hosts.Add(host);
        }
        CertificatePolicy = CertificatePolicy with { Replace = hosts.ToImmutable() };
    }

    /// <summary>What the controller itself needs before a rollout (the CA, the deployer's own certificate), written
    /// when new or re-issued. Only <c>up</c> calls it.</summary>
    public Task CommitControllerAsync(CancellationToken ct) =>
        _certificates.IsValueCreated ? _certificates.Value.CommitControllerAsync(ct) : Task.CompletedTask;
}
