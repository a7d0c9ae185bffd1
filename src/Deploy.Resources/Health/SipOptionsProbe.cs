using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Deploy.Resources.Health;

/// <summary>Sends one SIP OPTIONS over UDP and returns the status line of the answer (RFC 3261 keepalive ping).</summary>
public static class SipOptionsProbe
{
    public static async Task<string?> PingAsync(IPAddress address, int port, TimeSpan timeout, CancellationToken ct)
    {
        using var udp = new UdpClient(address.AddressFamily);
        udp.Connect(address, port);
        var local = (IPEndPoint)udp.Client.LocalEndPoint!;
        var tag = Guid.NewGuid().ToString("N")[..10];
        var msg =
            $"OPTIONS sip:{address}:{port} SIP/2.0\r\n" +
            $"Via: SIP/2.0/UDP {local.Address}:{local.Port};branch=z9hG4bK{tag};rport\r\n" +
            "Max-Forwards: 70\r\n" +
            $"From: <sip:nf-deploy@{local.Address}>;tag={tag}\r\n" +
            $"To: <sip:{address}:{port}>\r\n" +
            $"Call-ID: {tag}@nf-deploy\r\n" +
            "CSeq: 1 OPTIONS\r\n" +
            $"Contact: <sip:nf-deploy@{local.Address}:{local.Port}>\r\n" +
            "User-Agent: nf-deploy health check\r\n" +
            "Accept: application/sdp\r\n" +
            "Content-Length: 0\r\n\r\n";
        var bytes = Encoding.ASCII.GetBytes(msg);
        await udp.SendAsync(bytes, ct);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            while (true)
            {
                var res = await udp.ReceiveAsync(cts.Token);
                var text = Encoding.ASCII.GetString(res.Buffer);
                var first = text.Split("\r\n", 2)[0];
                // skip provisional answers
                if (first.StartsWith("SIP/2.0 1", StringComparison.Ordinal)) continue;
                return first;
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested) { return null; }
        catch (SocketException) { return null; } // ICMP port unreachable
    }
}
