using System.Net;
using Deploy.Core.Model;
using Deploy.Core.Transport;

namespace Deploy.Resources.Health.Kinds;

/// <summary><c>gtpv2-echo</c> (address, port 2123): a GTPv2-C Echo Request from the controller answered by an Echo
/// Response (<see cref="Gtpv2EchoProbe"/>).</summary>
public sealed class Gtpv2EchoCheck : HealthCheckKind
{
    public override string Name => "gtpv2-echo";

    public override Task<HealthResult> RunOnceAsync(HealthCheckSpec check, IHostTransport transport, CancellationToken ct) =>
        Gtpv2EchoProbe.ProbeAsync(IPAddress.Parse(check.Args["address"]),
            int.Parse(check.Args.GetValueOrDefault("port", "2123")), TimeSpan.FromSeconds(2), ct);
}
