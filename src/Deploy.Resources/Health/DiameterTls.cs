using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Deploy.Resources.Health;

/// <summary>TLS for a CER: the deployer's client certificate (from the site CA), and the CA and identity the peer must
/// prove (<see cref="CaTrust"/>, as the SIP probe checks a server).</summary>
public sealed record DiameterTls(X509Certificate2 ClientCertificate, X509Certificate2 TrustedCa, string ServerName)
{
    /// <summary>From PEM files on the controller.</summary>
    public static DiameterTls FromFiles(string certFile, string keyFile, string caFile, string serverName)
    {
        using var pem = X509Certificate2.CreateFromPemFile(certFile, keyFile);
        // an ephemeral PEM key must be exported once to be usable by the TLS stack
        var client = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        return new DiameterTls(client, CaTrust.Load(caFile), serverName);
    }

    /// <summary>The peer's certificate chains to the CA and names the expected identity.</summary>
    public bool Trusts(X509Certificate? presented, SslPolicyErrors errors) =>
        CaTrust.Verify(TrustedCa, ServerName, presented, errors) is null;

    /// <summary>The TLS handshake over <paramref name="inner"/> (left open when the TLS stream is disposed), presenting
    /// the client certificate.</summary>
    /// <exception cref="System.Security.Authentication.AuthenticationException">The handshake failed.</exception>
    public async Task<SslStream> HandshakeAsync(Stream inner, CancellationToken ct)
    {
        var ssl = new SslStream(inner, leaveInnerStreamOpen: true, (_, cert, _, errors) => Trusts(cert, errors));
        try
        {
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = ServerName,
                ClientCertificates = [ClientCertificate],
            }, ct);
            return ssl;
        }
        catch
        {
            await ssl.DisposeAsync();
            throw;
        }
    }
}
