using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Deploy.Site.Pki;

/// <summary>Makes CAs and host certificates in memory (.NET, no openssl) and checks a certificate's signature. Keys are
/// ECDSA P-256 (fast to make: a plan may issue several in memory; every TLS stack of the site speaks it).</summary>
public static class CertificateMaker
{
    public static X509Certificate2 NewCa(string stack, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest(new X500DistinguishedName($"CN=nf-deploy {stack} site CA, O=nf-deploy"), key, HashAlgorithmName.SHA256);
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        req.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(req.PublicKey, false));
        using var self = req.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(10));
        // through PEM, so that the key is usable for signing on every platform
        return X509Certificate2.CreateFromPem(self.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }

    /// <summary>The private key of a certificate as PKCS#8 PEM (ECDSA P-256 as made here, or a user CA's RSA key).</summary>
    public static string KeyPem(X509Certificate2 cert) =>
        ((AsymmetricAlgorithm?)cert.GetECDsaPrivateKey() ?? cert.GetRSAPrivateKey() ?? throw new CryptographicException("no private key")).ExportPkcs8PrivateKeyPem() + "\n";

    /// <summary>A host certificate: CN and DNS SAN = identity, IP SANs = addresses, server and client auth, 825 days
    /// (never beyond the CA's own expiry).</summary>
    public static (string CertPem, string KeyPem) Issue(X509Certificate2 ca, string identity, IReadOnlyList<string> addresses, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        // the padding is used only when the issuer's key is RSA (a user's own CA)
        var req = new CertificateRequest(new X500DistinguishedName($"CN={identity}"), new PublicKey(key), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(identity);
        foreach (var a in addresses) san.AddIpAddress(IPAddress.Parse(a));
        req.CertificateExtensions.Add(san.Build());
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        req.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false)); // serverAuth, clientAuth
        req.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(req.PublicKey, false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        var notAfter = now.AddDays(825) < ca.NotAfter.ToUniversalTime() ? now.AddDays(825) : new DateTimeOffset(ca.NotAfter.ToUniversalTime());
        using var cert = req.Create(ca, now.AddMinutes(-5), notAfter, serial);
        return (cert.ExportCertificatePem() + "\n", key.ExportPkcs8PrivateKeyPem() + "\n");
    }

    /// <summary>True when <paramref name="cert"/>'s signature verifies against <paramref name="ca"/> (validity dates aside:
    /// expiry is the renewal window's business).</summary>
    public static bool SignedBy(X509Certificate2 cert, X509Certificate2 ca)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationFlags = X509VerificationFlags.IgnoreNotTimeValid;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        using var pub = X509CertificateLoader.LoadCertificate(cert.RawData);
        return chain.Build(pub) && chain.ChainElements.Count == 2
            && chain.ChainElements[^1].Certificate.RawData.AsSpan().SequenceEqual(ca.RawData);
    }
}
