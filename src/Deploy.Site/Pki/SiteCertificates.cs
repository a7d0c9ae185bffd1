using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Deploy.Core.Model;

namespace Deploy.Site.Pki;

/// <summary>A host's certificate and private key, PEM.</summary>
public sealed record HostCertificate(string CertPem, string KeyPem, bool Issued);

/// <summary>Where hosts' TLS certificates come from.</summary>
public interface ICertificateSource
{
    string CaPem { get; }

    /// <summary>The certificate of a host for its identity (CN and DNS SAN) and addresses (IP SANs).</summary>
    HostCertificate ForHost(string host, string identity, IReadOnlyList<string> addresses);

    /// <summary>The CA certificate and a host's certificate and key as files on the controller (for the deployer's own TLS).</summary>
    string CaPath { get; }

    (string Cert, string Key) PathsOf(string host);
}

/// <summary>
/// The site's CA, made by this program (no openssl), kept in <c>.nf-deploy/pki/&lt;stack&gt;/</c>: created once per stack and
/// kept across runs. A host's certificate is kept while its identity and addresses stay the same and it is more than
/// 30 days from expiry; otherwise it is re-issued. Private keys are written 0600 and never printed.
/// A user may bring their own CA (<paramref name="userCaCert"/>, <paramref name="userCaKey"/>).
/// </summary>
public sealed class SiteCertificates : ICertificateSource
{
    private static readonly TimeSpan Renew = TimeSpan.FromDays(30);
    private readonly string _dir;
    private readonly TimeProvider _time;
    private readonly X509Certificate2 _ca;
    private readonly Lock _gate = new();

    public SiteCertificates(string dir, string stack, TimeProvider time, string? userCaCert = null, string? userCaKey = null)
    {
        _dir = dir;
        _time = time;
        Directory.CreateDirectory(dir);
        if (userCaCert is not null || userCaKey is not null)
        {
            if (userCaCert is null || userCaKey is null) throw new DeployException("a user-supplied CA needs both tlsCaCert and tlsCaKey");
            _ca = LoadPair(userCaCert, userCaKey, "the site CA");
            File.WriteAllText(Path.Combine(dir, "ca.cert.pem"), _ca.ExportCertificatePem() + "\n");
        }
        else
        {
            var certPath = Path.Combine(dir, "ca.cert.pem");
            var keyPath = Path.Combine(dir, "ca.key.pem");
            _ca = File.Exists(certPath) && File.Exists(keyPath) ? LoadPair(certPath, keyPath, "the site CA") : CreateCa(stack, certPath, keyPath);
        }
        CaPem = _ca.ExportCertificatePem() + "\n";
    }

    public string CaPem { get; }

    public string CaPath => Path.Combine(_dir, "ca.cert.pem");

    /// <summary>Where a host's certificate and key are kept on the controller.</summary>
    public (string Cert, string Key) PathsOf(string host) => (Path.Combine(_dir, host + ".cert.pem"), Path.Combine(_dir, host + ".key.pem"));

    public HostCertificate ForHost(string host, string identity, IReadOnlyList<string> addresses)
    {
        lock (_gate)
        {
            var certPath = Path.Combine(_dir, host + ".cert.pem");
            var keyPath = Path.Combine(_dir, host + ".key.pem");
            if (File.Exists(certPath) && File.Exists(keyPath))
            {
                using var existing = X509Certificate2.CreateFromPem(File.ReadAllText(certPath));
                if (Fits(existing, identity, addresses))
                    return new HostCertificate(File.ReadAllText(certPath), File.ReadAllText(keyPath), false);
            }
            using var key = RSA.Create(2048);
            var req = new CertificateRequest(new X500DistinguishedName($"CN={identity}"), key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName(identity);
            foreach (var a in addresses) san.AddIpAddress(IPAddress.Parse(a));
            req.CertificateExtensions.Add(san.Build());
            req.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
            req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
            req.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
                [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false)); // serverAuth, clientAuth
            req.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(req.PublicKey, false));
            var now = _time.GetUtcNow();
            var serial = RandomNumberGenerator.GetBytes(16);
            serial[0] &= 0x7f;
            using var cert = req.Create(_ca, now.AddMinutes(-5), Min(now.AddDays(825), _ca.NotAfter.ToUniversalTime()), serial);
            var certPem = cert.ExportCertificatePem() + "\n";
            var keyPem = key.ExportPkcs8PrivateKeyPem() + "\n";
            WriteAtomically(keyPath, keyPem, secret: true);
            WriteAtomically(certPath, certPem, secret: false);
            return new HostCertificate(certPem, keyPem, true);
        }
    }

    private bool Fits(X509Certificate2 cert, string identity, IReadOnlyList<string> addresses)
    {
        if (cert.GetNameInfo(X509NameType.SimpleName, false) != identity) return false;
        if (cert.Issuer != _ca.Subject) return false;
        if (cert.NotAfter.ToUniversalTime() - _time.GetUtcNow().UtcDateTime < Renew) return false;
        var san = cert.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
        if (san is null) return false;
        var dns = san.EnumerateDnsNames().ToHashSet();
        var ips = san.EnumerateIPAddresses().Select(i => i.ToString()).ToHashSet();
        return dns.SetEquals([identity]) && ips.SetEquals(addresses);
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private X509Certificate2 CreateCa(string stack, string certPath, string keyPath)
    {
        using var key = RSA.Create(3072);
        var req = new CertificateRequest(new X500DistinguishedName($"CN=nf-deploy {stack} site CA, O=nf-deploy"), key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        req.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(req.PublicKey, false));
        var now = _time.GetUtcNow();
        using var self = req.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(10));
        WriteAtomically(keyPath, key.ExportPkcs8PrivateKeyPem() + "\n", secret: true);
        WriteAtomically(certPath, self.ExportCertificatePem() + "\n", secret: false);
        return LoadPair(certPath, keyPath, "the site CA");
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

    private static void WriteAtomically(string path, string content, bool secret)
    {
        var tmp = path + ".tmp";
        File.Delete(tmp);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = secret ? UnixFileMode.UserRead | UnixFileMode.UserWrite : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        using (var f = new FileStream(tmp, options))
        {
            f.Write(Encoding.ASCII.GetBytes(content));
            f.Flush(true);
        }
        File.Move(tmp, path, overwrite: true);
    }
}
