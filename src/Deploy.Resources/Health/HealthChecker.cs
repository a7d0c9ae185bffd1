using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Deploy.Core.Model;
using Deploy.Core.Transport;

namespace Deploy.Resources.Health;

/// <summary>
/// The health checks an NF may declare:
/// <c>sip-options</c> (address, port, transport udp/tcp/tls, tls_ca, server_name: a 200 to OPTIONS from the controller;
/// over TLS after a handshake whose chain verifies against tls_ca),
/// <c>command</c> (command, optional expect regex: run on the host, exit 0 and output matching),
/// <c>tcp</c> (address, port: a TCP connect from the controller),
/// <c>diameter</c> (address, port: a CER from the controller answered by a CEA, 2001 or 3010),
/// <c>call</c> (a call test: SIPp scenarios and commands in order, then cleanup; see Calls/CallTestRunner).
/// <c>gtpv2-echo</c> (address, port 2123: a GTPv2-C Echo Request from the controller answered by an Echo Response).
/// Each is retried until it passes or the timeout ends.
/// </summary>
public sealed class HealthChecker : IHealthChecker
{
    public static readonly IReadOnlySet<string> Kinds = new HashSet<string> { "sip-options", "command", "tcp", "diameter", "call", "gtpv2-echo" };

    public async Task<HealthResult> CheckAsync(HealthCheckSpec check, IHostTransport transport, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        HealthResult last = new(false, "not run");
        while (true)
        {
            // call: registrations and calls through the site with SIPp (Calls/CallTestRunner), cleaned up after each try
            last = check.Kind == "call" ? await Calls.CallTestRunner.RunAsync(check, transport, ct) : await OnceAsync(check, transport, ct);
            if (last.Healthy || DateTime.UtcNow >= deadline) return last;
            await Task.Delay(TimeSpan.FromMilliseconds(check.Kind == "call" ? 5000 : 500), ct);
        }
    }

    private static async Task<HealthResult> OnceAsync(HealthCheckSpec check, IHostTransport transport, CancellationToken ct)
    {
        switch (check.Kind)
        {
            case "sip-options":
            {
                // transport udp (default), tcp or tls; over TLS the server's chain must verify against tls_ca (and its
                // name against server_name, when given) or the check fails at the handshake
                var ip = IPAddress.Parse(check.Args["address"]);
                var proto = check.Args.GetValueOrDefault("transport", "udp");
                var port = int.Parse(check.Args.GetValueOrDefault("port", proto == "tls" ? "5061" : "5060"));
                var tls = proto == "tls" && check.Args.GetValueOrDefault("tls_ca") is { Length: > 0 } ca
                    ? SipTls.FromFile(ca, check.Args.GetValueOrDefault("server_name"))
                    : null;
                var r = await SipOptionsProbe.ProbeAsync(ip, port, proto, tls, TimeSpan.FromSeconds(2), ct);
                return new HealthResult(r.Ok, r.Detail);
            }
            case "command":
            {
                var res = await transport.RunAsync(check.Args["command"], ct);
                var output = (res.Stdout + res.Stderr).Trim();
                if (!res.Ok) return new HealthResult(false, $"exit {res.ExitCode}: {Tail(output)}");
                if (check.Args.TryGetValue("expect", out var expect) && !Regex.IsMatch(res.Stdout, expect, RegexOptions.Multiline))
                    return new HealthResult(false, $"output does not match /{expect}/: {Tail(output)}");
                return new HealthResult(true, Tail(output));
            }
            case "tcp":
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
            case "diameter":
            {
                var ip = IPAddress.Parse(check.Args["address"]);
                var port = int.Parse(check.Args.GetValueOrDefault("port", "3868"));
                var wait = TimeSpan.FromSeconds(2);
                try
                {
                    // tls=true: over TLS on the peer's SecPort, with the deployer's certificate (tls_cert, tls_key) and the
                    // peer checked against tls_ca and server_name
                    var tls = check.Args.GetValueOrDefault("tls") == "true"
                        ? DiameterTls.FromFiles(check.Args["tls_cert"], check.Args["tls_key"], check.Args["tls_ca"], check.Args["server_name"])
                        : null;
                    var cea = await DiameterProbe.CapabilitiesExchangeAsync(ip, port,
                        check.Args.GetValueOrDefault("origin_host", "nf-deploy.invalid"),
                        check.Args.GetValueOrDefault("origin_realm", "invalid"), tls, wait, ct);
                    return DiameterProbe.Verdict(cea, ip, port, wait);
                }
                catch (InvalidDataException e)
                {
                    return new HealthResult(false, $"bad CEA from {ip}:{port}: {e.Message}");
                }
            }
            case "gtpv2-echo":
                return await Gtpv2EchoProbe.ProbeAsync(IPAddress.Parse(check.Args["address"]),
                    int.Parse(check.Args.GetValueOrDefault("port", "2123")), TimeSpan.FromSeconds(2), ct);
            default:
                return new HealthResult(false, $"unknown health check kind {check.Kind}");
        }
    }

    private static string Tail(string s) => s.Length <= 300 ? s : "…" + s[^300..];
}
