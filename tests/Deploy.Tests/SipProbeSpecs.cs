using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using AwesomeAssertions;
using Deploy.Resources.Health;

namespace Deploy.Tests;

/// <summary>The SIP OPTIONS health check over TCP and TLS, against a tiny SIP responder on 127.0.0.1.</summary>
public sealed class SipProbeSpecs
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static (X509Certificate2 Ca, X509Certificate2 Server) Pki(string caName)
    {
        using var caKey = RSA.Create(2048);
        var caReq = new CertificateRequest($"CN={caName}", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caReq.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caReq.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        var ca = caReq.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        using var key = RSA.Create(2048);
        var req = new CertificateRequest("CN=ims-1.lab.test", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("ims-1.lab.test");
        san.AddIpAddress(IPAddress.Loopback);
        req.CertificateExtensions.Add(san.Build());
        req.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var issued = req.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(10), [1, 2, 3, 4]);
        var server = X509CertificateLoader.LoadPkcs12(issued.CopyWithPrivateKey(key).Export(X509ContentType.Pkcs12), null);
        return (X509CertificateLoader.LoadCertificate(ca.RawData), server);
    }

    /// <summary>Answers one OPTIONS per connection with 200, over TCP or (with a certificate) TLS.</summary>
    private static (int Port, Task Server) Responder(X509Certificate2? cert, CancellationToken ct)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var task = Task.Run(async () =>
        {
            try
            {
                while (!ct.IsCancellationRequested)
                {
                    using var client = await listener.AcceptTcpClientAsync(ct);
                    Stream s = client.GetStream();
                    try
                    {
                        if (cert is not null)
                        {
                            var ssl = new SslStream(s);
                            await ssl.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = cert }, ct);
                            s = ssl;
                        }
                        var buf = new byte[4096];
                        var text = "";
                        while (!text.Contains("\r\n\r\n", StringComparison.Ordinal))
                        {
                            var n = await s.ReadAsync(buf, ct);
                            if (n == 0) break;
                            text += Encoding.ASCII.GetString(buf, 0, n);
                        }
                        await s.WriteAsync(Encoding.ASCII.GetBytes("SIP/2.0 100 Trying\r\nContent-Length: 0\r\n\r\nSIP/2.0 200 Keepalive\r\nContent-Length: 0\r\n\r\n"), ct);
                    }
                    catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException) { }
                }
            }
            catch (OperationCanceledException) { }
            finally { listener.Stop(); }
        }, ct);
        return (port, task);
    }

    [Fact]
    public async Task Options_over_tcp_gets_the_final_answer_after_provisional_ones()
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var (port, _) = Responder(null, cts.Token);

        var r = await SipOptionsProbe.ProbeAsync(IPAddress.Loopback, port, "tcp", null, TimeSpan.FromSeconds(5), Ct);

        r.Ok.Should().BeTrue(r.Detail);
        r.Status.Should().Be("SIP/2.0 200 Keepalive");
        await cts.CancelAsync();
    }

    [Fact]
    public async Task Options_over_tls_pass_when_the_server_chain_verifies_against_the_site_ca()
    {
        var (ca, server) = Pki("Site CA");
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var (port, _) = Responder(server, cts.Token);

        var r = await SipOptionsProbe.ProbeAsync(IPAddress.Loopback, port, "tls", new SipTls(ca, "ims-1.lab.test"), TimeSpan.FromSeconds(5), Ct);

        r.Ok.Should().BeTrue(r.Detail);
        r.Detail.Should().Contain("chain verified against the CA");
        await cts.CancelAsync();
    }

    [Fact]
    public async Task Options_over_tls_fail_at_the_handshake_when_the_chain_is_not_the_site_cas()
    {
        var (_, server) = Pki("Some other CA");
        var (siteCa, _) = Pki("Site CA");
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var (port, _) = Responder(server, cts.Token);

        var r = await SipOptionsProbe.ProbeAsync(IPAddress.Loopback, port, "tls", new SipTls(siteCa, null), TimeSpan.FromSeconds(5), Ct);

        r.Ok.Should().BeFalse();
        r.Detail.Should().Contain("TLS handshake with 127.0.0.1").And.Contain("does not chain to the trusted CA CN=Site CA");
    }

    [Fact]
    public async Task Options_over_tls_fail_when_the_certificate_is_for_another_name()
    {
        var (ca, server) = Pki("Site CA");
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var (port, _) = Responder(server, cts.Token);

        var r = await SipOptionsProbe.ProbeAsync(IPAddress.Loopback, port, "tls", new SipTls(ca, "pcscf.elsewhere.test"), TimeSpan.FromSeconds(5), Ct);

        r.Ok.Should().BeFalse();
        r.Detail.Should().Contain("is not for pcscf.elsewhere.test");
    }
}
