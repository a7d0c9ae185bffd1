using System.Net;
using Deploy.Core.Model;
using Deploy.Core.Transport;

namespace Deploy.Resources.Health.Kinds;

/// <summary>
/// <c>diameter</c> (address, port 3868, origin_host, origin_realm; tls=true with tls_cert, tls_key, tls_ca, server_name):
/// a CER from the controller answered by a CEA, 2001 or 3010 (<see cref="DiameterProbe"/>). Over TLS on the peer's
/// SecPort, with the deployer's certificate, the peer checked against tls_ca and server_name.
/// </summary>
public sealed class DiameterCheck : HealthCheckKind
{
    public override string Name => "diameter";

    public override async Task<HealthResult> RunOnceAsync(HealthCheckSpec check, IHostTransport transport, CancellationToken ct)
    {
        var address = IPAddress.Parse(check.Args["address"]);
        var port = int.Parse(check.Args.GetValueOrDefault("port", "3868"));
        var wait = TimeSpan.FromSeconds(2);
        try
        {
            var tls = check.Args.GetValueOrDefault("tls") == "true"
                ? DiameterTls.FromFiles(check.Args["tls_cert"], check.Args["tls_key"], check.Args["tls_ca"], check.Args["server_name"])
                : null;
            var answer = await DiameterProbe.CapabilitiesExchangeAsync(address, port,
                check.Args.GetValueOrDefault("origin_host", "nf-deploy.invalid"),
                check.Args.GetValueOrDefault("origin_realm", "invalid"), tls, wait, ct);
            return DiameterProbe.Verdict(answer, address, port, wait);
        }
        catch (InvalidDataException e)
        {
            return new HealthResult(false, $"bad CEA from {address}:{port}: {e.Message}");
        }
    }
}
