using System.Net;
using System.Net.Sockets;
using Deploy.Core.Model;

namespace Deploy.Resources.Health;

/// <summary>Sends one GTPv2-C Echo Request over UDP (port 2123 by default) and waits for the Echo Response with the
/// same sequence number: what an SGW does to check that a P-GW's GTP-C endpoint is alive.</summary>
public static class Gtpv2EchoProbe
{
    public const int Port = 2123;

    public static async Task<HealthResult> ProbeAsync(IPAddress address, int port, TimeSpan timeout, CancellationToken ct)
    {
        var sequence = (uint)Random.Shared.Next(1, 0xFFFFFF);
        using var udp = new UdpClient(address.AddressFamily);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            udp.Connect(address, port);
            await udp.SendAsync(Gtpv2Echo.Request(sequence, recovery: 0), cts.Token);
            while (true)
            {
                var res = await udp.ReceiveAsync(cts.Token);
                Gtpv2EchoResponse answer;
                try { answer = Gtpv2Echo.DecodeResponse(res.Buffer); }
                catch (InvalidDataException e)
                {
                    return new HealthResult(false, $"GTPv2-C {address}:{port}: not an Echo Response: {e.Message}");
                }
                if (answer.Sequence != sequence) continue; // a late answer to an earlier probe
                var recovery = answer.Recovery?.ToString() ?? "absent";
                return new HealthResult(true, $"GTPv2-C Echo Response from {address}:{port} (recovery {recovery})");
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new HealthResult(false, $"no GTPv2-C Echo Response from {address}:{port} within {timeout.TotalSeconds:0} s");
        }
        catch (SocketException e)
        {
            return new HealthResult(false, $"GTPv2-C {address}:{port}: {e.Message}"); // ICMP port unreachable: nothing listens
        }
    }
}
