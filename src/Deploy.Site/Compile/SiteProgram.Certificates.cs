using System.Collections.Concurrent;
using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Resources;
using Deploy.Site.Model;
using Deploy.Site.Templates;
using Scriban.Runtime;

namespace Deploy.Site.Compile;

/// <summary>Host certificates (from the inventory, or issued by the site CA). Certificates as planned resources: each host's
/// certificate of the site CA is a resource of its plan (<see cref="CertificateSpec"/>), applied before the files that carry it.</summary>
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

    /// <summary>
    /// The host's TLS certificate: from the inventory (<c>tls_cert_file</c>/<c>tls_key_file</c>, checked against the
    /// host's identity) or issued by the site CA for its identity and addresses.
    /// </summary>
    private Pki.HostCertificate Certificate(InventoryHost h, ScriptObject me)
    {
        var identity = (string)me["identity"]!;
        if (h.Vars.GetValueOrDefault("tls_cert_file") is string certFile)
        {
            var keyFile = h.Vars.GetValueOrDefault("tls_key_file") as string
                ?? throw new TemplateFunctionException($"host {h.Name}: tls_cert_file is set but tls_key_file is not");
            var certPath = Deploy.Core.Paths.ContainedPath.Resolve(ProjectDir, certFile)
                ?? throw new TemplateFunctionException($"host {h.Name}: tls_cert_file '{certFile}' is outside the project");
            var keyPath = Deploy.Core.Paths.ContainedPath.Resolve(ProjectDir, keyFile)
                ?? throw new TemplateFunctionException($"host {h.Name}: tls_key_file '{keyFile}' is outside the project");
            System.Security.Cryptography.X509Certificates.X509Certificate2 pair;
            try { pair = Pki.SiteCertificates.LoadPair(certPath, keyPath, $"host {h.Name}"); }
            catch (DeployException e) { throw new TemplateFunctionException(e.Message); }
            using (pair)
            {
                var cn = pair.GetNameInfo(System.Security.Cryptography.X509Certificates.X509NameType.SimpleName, false);
                if (cn != identity)
                    throw new TemplateFunctionException($"host {h.Name}: the certificate {certFile} is for '{cn}', " +
                        $"but the host's identity is '{identity}'{IdentityOrigin(h.Name)}: a host's certificate is for its identity");
            }
            return new Pki.HostCertificate(File.ReadAllText(certPath), File.ReadAllText(keyPath), null);
        }
        // the host's own addresses: not loopback, not a tunnel's (ogstun carries the UEs' gateway, which changes nothing here)
        var addresses = ((ScriptObject)me["interfaces"]!).Where(i => i.Key != "lo" && ((ScriptObject)i.Value!)["tunnel"] is not true)
            .SelectMany(i => ((ScriptArray)((ScriptObject)i.Value!)["ipv4"]!).Cast<string>()).ToList();
        try { return Planned(_certificates.Value.ForHost(h.Name, identity, addresses)); }
        catch (DeployException e) { throw new TemplateFunctionException(e.Message); }
    }
}
