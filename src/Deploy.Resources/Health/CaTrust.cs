using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Deploy.Resources.Health;

/// <summary>
/// The check both TLS probes (SIP OPTIONS, Diameter CER) make of a server's certificate: its chain must verify against
/// the site CA given, and only against it (not the controller's trust store), without revocation checks (a lab CA
/// publishes none); when a name is expected, the certificate must be issued for it.
/// </summary>
public static class CaTrust
{
    /// <summary>A CA certificate from a PEM or DER file on the controller.</summary>
    public static X509Certificate2 Load(string caFile) => X509CertificateLoader.LoadCertificateFromFile(caFile);

    /// <summary>Null when <paramref name="presented"/> chains to <paramref name="trustedCa"/> and, when
    /// <paramref name="serverName"/> is set, matches it; otherwise why not.</summary>
    public static string? Verify(X509Certificate2 trustedCa, string? serverName, X509Certificate? presented, SslPolicyErrors errors)
    {
        if (presented is null) return "the server sent no certificate";
        using var cert = X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(trustedCa);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (!chain.Build(cert))
            return $"the server's certificate ({cert.Subject}, issued by {cert.Issuer}) does not chain to the trusted CA " +
                $"{trustedCa.Subject}: " +
                string.Join("; ", chain.ChainStatus.Select(status => status.StatusInformation.Trim())
                    .Where(info => info.Length > 0).Distinct());
        if (serverName is not null && (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
            return $"the server's certificate ({cert.Subject}) is not for {serverName}";
        return null;
    }
}
