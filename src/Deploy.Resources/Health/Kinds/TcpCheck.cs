using System.Net;
using System.Net.Sockets;
using Deploy.Core.Model;
using Deploy.Core.Transport;

namespace Deploy.Resources.Health.Kinds;

/// <summary><c>tcp</c> (address, port): a TCP connect from the controller within 2 s.</summary>
public sealed class TcpCheck : HealthCheckKind
{
    public override string Name => "tcp";

    public override async Task<HealthResult> RunOnceAsync(HealthCheckSpec check, IHostTransport transport, CancellationToken ct)
    {
        using var tcp = new TcpClient();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await tcp.ConnectAsync(IPAddress.Parse(check.Args["address"]), int.Parse(check.Args["port"]), cts.Token);
            return new HealthResult(true, "connected");
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            return new HealthResult(false, e.Message);
        }
    }
}
