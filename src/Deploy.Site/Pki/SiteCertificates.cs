using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Resources;

namespace Deploy.Site.Pki;

/// <summary>A host's certificate and private key, PEM, and the plan's resource for them (null: the user's own files).</summary>
public sealed record HostCertificate(string CertPem, string KeyPem, CertificateSpec? Resource);

/// <summary>How certificates are kept and renewed.</summary>
/// <param name="RenewDays">A certificate this many days or fewer from expiry is re-issued (the setting tlsRenewDays).</param>
/// <param name="Replace">Names (hosts, or nf-deploy for the deployer) whose certificate is re-issued anyway (<c>--replace</c>).</param>
public sealed record CertificatePolicy(int RenewDays, ImmutableHashSet<string> Replace)
{
    public static readonly CertificatePolicy Default = new(30, []);
}

/// <summary>Where hosts' TLS certificates come from.</summary>
public interface ICertificateSource
{
    string CaPem { get; }

    /// <summary>The certificate of a host for its identity (CN and DNS SAN) and addresses (IP SANs).</summary>
    HostCertificate ForHost(string host, string identity, IReadOnlyList<string> addresses);

    /// <summary>The CA certificate and a host's certificate and key as files on the controller (for the deployer's own TLS).</summary>
    string CaPath { get; }

    (string Cert, string Key) PathsOf(string host);

    /// <summary>Writes what the controller itself needs (the CA certificate, the deployer's own certificate) when it
    /// is new or re-issued. Only <c>up</c> calls it.</summary>
    Task CommitControllerAsync(CancellationToken ct);
}

/// <summary>
/// The site's CA and the hosts' certificates, kept in <c>.nf-deploy/pki/&lt;stack&gt;/</c>. Reading the site never writes
/// there: a certificate that must be made (a new host, a new identity or addresses, expiry within the renewal window,
/// another CA, <c>--replace</c>) is issued in memory, and becomes a planned resource (<see cref="CertificateSpec"/>)
/// that <c>up</c> commits. A site without a CA yet gets one in memory the same way (made on disk by the first <c>up</c>).
/// A kept certificate is used only when its signature verifies against the CA and its key matches it.
/// A user may bring their own CA (<paramref name="userCaCert"/>, <paramref name="userCaKey"/>).
/// </summary>
public sealed class SiteCertificates : ICertificateSource
{
    private const string Controller = "nf-deploy";
    private readonly PkiDirectory _pki;
    private readonly TimeProvider _time;
    private readonly CertificatePolicy _policy;
    private readonly X509Certificate2 _ca;
    private readonly bool _caIsNew;
    private readonly bool _userCa;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (string Identity, string Addresses, HostCertificate Cert)> _issued = new(StringComparer.Ordinal);

    public SiteCertificates(string dir, string stack, TimeProvider time, string? userCaCert = null, string? userCaKey = null, CertificatePolicy? policy = null)
    {
        _pki = new PkiDirectory(dir);
        _time = time;
        _policy = policy ?? CertificatePolicy.Default;
        if (userCaCert is not null || userCaKey is not null)
        {
            if (userCaCert is null || userCaKey is null) throw new DeployException("a user-supplied CA needs both tlsCaCert and tlsCaKey");
            _ca = LoadPair(userCaCert, userCaKey, "the site CA");
            _userCa = true;
        }
        else
        {
            var (certPath, keyPath) = (_pki.PathOf("ca.cert.pem"), _pki.PathOf("ca.key.pem"));
            var kept = _pki.Read(() => File.Exists(certPath) && File.Exists(keyPath) ? LoadPair(certPath, keyPath, "the site CA") : null);
            _caIsNew = kept is null;
            _ca = kept ?? CertificateMaker.NewCa(stack, time.GetUtcNow());
        }
        CaPem = _ca.ExportCertificatePem() + "\n";
    }

    public string CaPem { get; }

    public string CaPath => _pki.PathOf("ca.cert.pem");

    /// <summary>Where a host's certificate and key are kept on the controller.</summary>
    public (string Cert, string Key) PathsOf(string host) => (_pki.PathOf(host + ".cert.pem"), _pki.PathOf(host + ".key.pem"));

    public HostCertificate ForHost(string host, string identity, IReadOnlyList<string> addresses)
    {
        var ips = string.Join(",", addresses);
        lock (_gate)
        {
            // one answer per run: the plan, the re-plan after lab hosts were made and the apply see the same pair
            if (_issued.TryGetValue(host, out var known) && known.Identity == identity && known.Addresses == ips) return known.Cert;
            var (certPath, keyPath) = PathsOf(host);
            var kept = _pki.Read(() => File.Exists(certPath) && File.Exists(keyPath) ? (Cert: File.ReadAllText(certPath), Key: File.ReadAllText(keyPath)) : default);
            var keptProps = kept.Cert is null ? null : TryDescribe(kept.Cert);
            var reasons = kept.Cert is null ? [] : Reasons(host, kept.Cert, kept.Key, identity, addresses);
            HostCertificate result;
            if (kept.Cert is not null && reasons.IsEmpty)
                result = new HostCertificate(kept.Cert, kept.Key, Spec(host, identity, keptProps!) with { Kept = keptProps });
            else
            {
                var (certPem, keyPem) = CertificateMaker.Issue(_ca, identity, addresses, _time.GetUtcNow());
                var spec = Spec(host, identity, Describe(certPem)) with
                {
                    Kept = keptProps,
                    Reasons = reasons,
                    Issue = new Pending(this, host, certPem, keyPem),
                };
                result = new HostCertificate(certPem, keyPem, spec);
            }
            _issued[host] = (identity, ips, result);
            return result;
        }
    }

    private CertificateSpec Spec(string host, string identity, ImmutableSortedDictionary<string, string> outputs) =>
        new(identity, outputs) { Host = host, Name = host == Controller ? Controller : "tls", DeclaredBy = "pki", Store = _pki.Dir };

    /// <summary>Why a kept certificate does not do any more; empty when it does.</summary>
    private ImmutableArray<PropertyChange> Reasons(string host, string certPem, string keyPem, string identity, IReadOnlyList<string> addresses)
    {
        X509Certificate2 cert;
        try { cert = X509Certificate2.CreateFromPem(certPem, keyPem); }
        catch (CryptographicException) { return [new PropertyChange("key", "does not match the certificate", "a new pair")]; }
        using (cert)
        {
            var r = ImmutableArray.CreateBuilder<PropertyChange>();
            if (_policy.Replace.Contains(host)) r.Add(new PropertyChange("replace", null, "requested with --replace"));
            if (!CertificateMaker.SignedBy(cert, _ca))
                r.Add(new PropertyChange("issuer", "another CA", _caIsNew ? "a new site CA" : "the site CA"));
            var cn = cert.GetNameInfo(X509NameType.SimpleName, false);
            var san = cert.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
            var dns = san?.EnumerateDnsNames().ToHashSet() ?? [];
            if (cn != identity || !dns.SetEquals([identity])) r.Add(new PropertyChange("identity", cn, identity));
            var ips = san?.EnumerateIPAddresses().Select(i => i.ToString()).ToList() ?? [];
            if (!ips.ToHashSet().SetEquals(addresses)) r.Add(new PropertyChange("addresses", string.Join(", ", ips), string.Join(", ", addresses)));
            var left = cert.NotAfter.ToUniversalTime() - _time.GetUtcNow().UtcDateTime;
            if (left < TimeSpan.FromDays(_policy.RenewDays))
                r.Add(new PropertyChange("expiry", cert.NotAfter.ToUniversalTime().ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                    $"within the renewal window of {_policy.RenewDays} days (tlsRenewDays)"));
            return r.ToImmutable();
        }
    }

    private static ImmutableSortedDictionary<string, string>? TryDescribe(string certPem)
    {
        try { return Describe(certPem); }
        catch (CryptographicException) { return null; }
    }

    private static ImmutableSortedDictionary<string, string> Describe(string certPem)
    {
        using var c = X509Certificate2.CreateFromPem(certPem);
        return ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, new Dictionary<string, string>
        {
            ["fingerprint"] = "sha256:" + Convert.ToHexString(SHA256.HashData(c.RawData)).ToLowerInvariant()[..16],
            ["subject"] = c.GetNameInfo(X509NameType.SimpleName, false),
            ["notAfter"] = c.NotAfter.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        });
    }

    public Task CommitControllerAsync(CancellationToken ct)
    {
        Pending? deployer;
        lock (_gate) deployer = _issued.GetValueOrDefault(Controller).Cert?.Resource?.Issue as Pending;
        return deployer is not null ? deployer.CommitAsync(ct) : _pki.WriteAsync(WriteCa, ct);
    }

    /// <summary>The CA as the plan knew it: written when new; a CA another run made meanwhile is never overwritten.</summary>
    private void WriteCa()
    {
        var (certPath, keyPath) = (_pki.PathOf("ca.cert.pem"), _pki.PathOf("ca.key.pem"));
        if (_userCa)
        {
            if (!File.Exists(certPath) || File.ReadAllText(certPath) != CaPem) _pki.WriteFile("ca.cert.pem", CaPem, secret: false);
            return;
        }
        if (File.Exists(certPath) || File.Exists(keyPath))
        {
            if (File.Exists(certPath) && File.ReadAllText(certPath) == CaPem) return;
            throw new DeployException($"the site CA in {_pki.Dir} was made by another run while this one planned: run the command again");
        }
        if (!_caIsNew) throw new DeployException($"the site CA in {_pki.Dir} is gone: restore it (every host's certificate depends on it) or remove the directory to start a new CA");
        _pki.WriteFile("ca.key.pem", CertificateMaker.KeyPem(_ca), secret: true);
        _pki.WriteFile("ca.cert.pem", CaPem, secret: false);
    }

    /// <summary>A pair issued in memory; written (with the CA when new) by <c>up</c>, key first, under the directory's lock.</summary>
    private sealed class Pending(SiteCertificates owner, string host, string certPem, string keyPem) : ICertificateIssue
    {
        public Task CommitAsync(CancellationToken ct) => owner._pki.WriteAsync(() =>
        {
            owner.WriteCa();
            owner._pki.WriteFile(host + ".key.pem", keyPem, secret: true);
            owner._pki.WriteFile(host + ".cert.pem", certPem, secret: false);
        }, ct);
    }

    /// <summary>A certificate with its private key from PEM files, with errors that name the file.</summary>
    public static X509Certificate2 LoadPair(string certPath, string keyPath, string what)
    {
        string certPem, keyPem;
        try { certPem = File.ReadAllText(certPath); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new DeployException($"{what}: cannot read certificate {certPath}: {e.Message}"); }
        try { keyPem = File.ReadAllText(keyPath); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new DeployException($"{what}: cannot read private key {keyPath}: {e.Message}"); }
        try { return X509Certificate2.CreateFromPem(certPem, keyPem); }
        catch (CryptographicException e) { throw new DeployException($"{what}: {certPath} and {keyPath} are not a PEM certificate and its private key: {e.Message}"); }
    }
}
