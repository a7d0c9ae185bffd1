using System.Net;
using Deploy.Core.Model;
using Deploy.Core.Transport;

namespace Deploy.Resources.Health.Kinds;

/// <summary>
/// <c>sip-options</c> (address, port, transport udp/tcp/tls, tls_ca, server_name): a 200 to an OPTIONS from the
/// controller; over TLS after a handshake whose chain verifies against tls_ca (and its name against server_name, when
/// given), or the check fails at the handshake.
/// </summary>
public sealed class SipOptionsCheck : HealthCheckKind
{
    public override string Name => "sip-options";

    public override async Task<HealthResult> RunOnceAsync(HealthCheckSpec check, IHostTransport transport, CancellationToken ct)
    {
        var address = IPAddress.Parse(check.Args["address"]);
        var protocol = check.Args.GetValueOrDefault("transport", "udp");
        var port = int.Parse(check.Args.GetValueOrDefault("port", protocol == "tls" ? "5061" : "5060"));
        var tls = protocol == "tls" && check.Args.GetValueOrDefault("tls_ca") is { Length: > 0 } ca
            ? SipTls.FromFile(ca, check.Args.GetValueOrDefault("server_name"))
            : null;
        var answer = await SipOptionsProbe.ProbeAsync(address, port, protocol, tls, TimeSpan.FromSeconds(2), ct);
        return new HealthResult(answer.Ok, answer.Detail);
    }
}
