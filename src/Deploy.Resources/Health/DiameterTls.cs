namespace Deploy.Resources.Health;

/// <summary>TLS for a CER: the deployer's client certificate (from the site CA), and the CA and identity the peer must prove.</summary>
public sealed record DiameterTls(System.Security.Cryptography.X509Certificates.X509Certificate2 ClientCertificate,
    System.Security.Cryptography.X509Certificates.X509Certificate2 TrustedCa, string ServerName)
{
    /// <summary>From PEM files on the controller.</summary>
    public static DiameterTls FromFiles(string certFile, string keyFile, string caFile, string serverName)
    {
        using var pem = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(certFile, keyFile);
        // an ephemeral PEM key must be exported once to be usable by the TLS stack
        var client = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12(
            pem.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12), null);
        return new DiameterTls(client, System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(caFile), serverName);
    }

    /// <summary>The peer's certificate chains to the CA and names the expected identity.</summary>
    public bool Trusts(System.Security.Cryptography.X509Certificates.X509Certificate? presented, System.Net.Security.SslPolicyErrors errors)
    {
        if (presented is null) return false;
        using var cert = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
        using var chain = new System.Security.Cryptography.X509Certificates.X509Chain();
        chain.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(TrustedCa);
        chain.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
        return chain.Build(cert) && (errors & System.Net.Security.SslPolicyErrors.RemoteCertificateNameMismatch) == 0;
    }
}
