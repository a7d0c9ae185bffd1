using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Deploy.Resources.Health;

/// <summary>What the server's TLS certificate must be: its chain verified against <see cref="TrustedCa"/> (only), and,
/// when <see cref="ServerName"/> is set, issued for that name.</summary>
public sealed record SipTls(X509Certificate2 TrustedCa, string? ServerName)
{
    public static SipTls FromFile(string caFile, string? serverName) =>
        new(CaTrust.Load(caFile), string.IsNullOrEmpty(serverName) ? null : serverName);
}

/// <summary>The answer to an OPTIONS: its status line, or why there was none.</summary>
public sealed record SipProbeResult(string? Status, string Detail)
{
    public bool Ok => Status?.StartsWith("SIP/2.0 200", StringComparison.Ordinal) == true;
}

/// <summary>
/// Sends one SIP OPTIONS (RFC 3261 keepalive ping) over UDP, TCP or TLS and returns the status line of the answer.
/// Over TLS, the handshake must verify the server's chain against the given CA, or the probe fails without sending.
/// </summary>
public static class SipOptionsProbe
{
    public static async Task<string?> PingAsync(IPAddress address, int port, TimeSpan timeout, CancellationToken ct) =>
        (await ProbeAsync(address, port, "udp", null, timeout, ct)).Status;

    public static async Task<SipProbeResult> ProbeAsync(
        IPAddress address, int port, string transport, SipTls? tls, TimeSpan timeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            return transport switch
            {
                "udp" => await UdpAsync(address, port, cts.Token),
                "tcp" or "tls" => await StreamAsync(address, port, transport, tls, cts.Token),
                _ => new SipProbeResult(null, $"unknown SIP transport '{transport}' (udp, tcp, tls)"),
            };
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new SipProbeResult(null,
                $"no answer to OPTIONS over {transport} from {address}:{port} within {timeout.TotalSeconds:0} s");
        }
        catch (SocketException e) // refused, ICMP unreachable
        {
            return new SipProbeResult(null, $"{transport} {address}:{port}: {e.Message}");
        }
        catch (IOException e) { return new SipProbeResult(null, $"{transport} {address}:{port}: {e.Message}"); }
    }

    private static string Options(IPAddress address, int port, string transport, IPEndPoint local, string tag) =>
        $"OPTIONS sip:{address}:{port}{(transport == "udp" ? "" : ";transport=" + transport)} SIP/2.0\r\n" +
        $"Via: SIP/2.0/{transport.ToUpperInvariant()} {local.Address}:{local.Port};branch=z9hG4bK{tag};rport\r\n" +
        "Max-Forwards: 70\r\n" +
        $"From: <sip:nf-deploy@{local.Address}>;tag={tag}\r\n" +
        $"To: <sip:{address}:{port}>\r\n" +
        $"Call-ID: {tag}@nf-deploy\r\n" +
        "CSeq: 1 OPTIONS\r\n" +
        $"Contact: <sip:nf-deploy@{local.Address}:{local.Port}{(transport == "udp" ? "" : ";transport=" + transport)}>\r\n" +
        "User-Agent: nf-deploy health check\r\n" +
        "Accept: application/sdp\r\n" +
        "Content-Length: 0\r\n\r\n";

    private static async Task<SipProbeResult> UdpAsync(IPAddress address, int port, CancellationToken ct)
    {
        using var udp = new UdpClient(address.AddressFamily);
        udp.Connect(address, port);
        var tag = Guid.NewGuid().ToString("N")[..10];
        await udp.SendAsync(Encoding.ASCII.GetBytes(Options(address, port, "udp", (IPEndPoint)udp.Client.LocalEndPoint!, tag)), ct);
        while (true)
        {
            var res = await udp.ReceiveAsync(ct);
            var first = Encoding.ASCII.GetString(res.Buffer).Split("\r\n", 2)[0];
            if (first.StartsWith("SIP/2.0 1", StringComparison.Ordinal)) continue; // provisional
            return new SipProbeResult(first, first);
        }
    }

    private static async Task<SipProbeResult> StreamAsync(IPAddress address, int port, string transport, SipTls? tls, CancellationToken ct)
    {
        using var tcp = new TcpClient(address.AddressFamily);
        await tcp.ConnectAsync(address, port, ct);
        Stream stream = tcp.GetStream();
        SslStream? ssl = null;
        if (transport == "tls")
        {
            if (tls is null) return new SipProbeResult(null, "a TLS probe needs the CA to verify the server against (tls_ca)");
            string? rejected = null;
            ssl = new SslStream(stream, leaveInnerStreamOpen: false, (_, cert, _, errors) =>
            {
                rejected = Verify(tls, cert, errors);
                return rejected is null;
            });
            try
            {
                await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                {
                    TargetHost = tls.ServerName ?? address.ToString(),
                    EnabledSslProtocols = System.Security.Authentication.SslProtocols.None, // the system's choice: TLS 1.2/1.3
                }, ct);
            }
            catch (System.Security.Authentication.AuthenticationException e)
            {
                await ssl.DisposeAsync();
                return new SipProbeResult(null, $"TLS handshake with {address}:{port} failed: {rejected ?? e.Message}");
            }
            stream = ssl;
        }
        await using var _ = ssl;
        var tag = Guid.NewGuid().ToString("N")[..10];
        await stream.WriteAsync(Encoding.ASCII.GetBytes(Options(address, port, transport, (IPEndPoint)tcp.Client.LocalEndPoint!, tag)), ct);
        await stream.FlushAsync(ct);
        var buffer = new StringBuilder();
        var chunk = new byte[4096];
        while (true)
        {
            var n = await stream.ReadAsync(chunk, ct);
            if (n == 0) return new SipProbeResult(null, $"{transport} {address}:{port} closed the connection without an answer");
            buffer.Append(Encoding.ASCII.GetString(chunk, 0, n));
            // one response per header block; skip provisional ones
            while (buffer.ToString().IndexOf("\r\n\r\n", StringComparison.Ordinal) is var end and >= 0)
            {
                var head = buffer.ToString()[..end];
                buffer.Remove(0, end + 4);
                var first = head.Split("\r\n", 2)[0];
                if (first.StartsWith("SIP/2.0 1", StringComparison.Ordinal)) continue;
                var proto = ssl is null ? "" : $" ({ssl.SslProtocol}, chain verified against the CA)";
                return new SipProbeResult(first, first + proto);
            }
        }
    }

    /// <summary>Null when the server's certificate chains to the trusted CA (and only to it) and matches the name
    /// (<see cref="CaTrust"/>, the check the Diameter probe makes too).</summary>
    public static string? Verify(SipTls tls, X509Certificate? presented, SslPolicyErrors errors) =>
        CaTrust.Verify(tls.TrustedCa, tls.ServerName, presented, errors);
}
