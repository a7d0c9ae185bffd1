// The Diameter probe in three files: DiameterProbe.cs (the client: connect, CER/CEA, DPR/DPA, verdict),
// DiameterProbe.Codec.cs (the protocol's constants, message encoding and decoding), DiameterTls.cs (the TLS identity
// and handshake, the peer checked by CaTrust as the SIP probe checks a server). Kinds/DiameterCheck.cs is the health check.
using System.Net;
using System.Net.Sockets;
using Deploy.Core.Model;

namespace Deploy.Resources.Health;

/// <summary>What a Diameter peer said in its Capabilities-Exchange-Answer.</summary>
public sealed record DiameterAnswer(uint ResultCode, string OriginHost, string OriginRealm, string? ProductName);

/// <summary>
/// A minimal Diameter client (RFC 6733) for health checks: over TCP, one CER/CEA exchange and,
/// when the peer accepted us (2001), an orderly DPR/DPA before closing. No state is kept between calls.
/// </summary>
public static partial class DiameterProbe
{
    /// <summary>
    /// Connects over TCP, sends a CER and returns the peer's CEA, or null when there was no answer within
    /// <paramref name="timeout"/> (connection refused, reset or closed, or silence). After a successful CEA the
    /// peer is told goodbye with a DPR (Disconnect-Cause DO_NOT_WANT_TO_TALK_TO_YOU) and its DPA awaited, best
    /// effort; after any other CEA the connection is just closed, as RFC 6733 5.3 has it.
    /// </summary>
    /// <exception cref="InvalidDataException">The peer answered with something that is not a well-formed CEA.</exception>
    public static Task<DiameterAnswer?> CapabilitiesExchangeAsync(
        IPAddress address, int port, string originHost, string originRealm, TimeSpan timeout, CancellationToken ct) =>
        CapabilitiesExchangeAsync(address, port, originHost, originRealm, null, timeout, ct);

    /// <param name="tls">When set, the exchange runs inside TLS (RFC 6733: the peer's SecPort), presenting a client
    /// certificate and checking the peer's certificate against a CA and its Diameter identity.</param>
    public static async Task<DiameterAnswer?> CapabilitiesExchangeAsync(
        IPAddress address, int port, string originHost, string originRealm, DiameterTls? tls, TimeSpan timeout, CancellationToken ct)
    {
        using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            await socket.ConnectAsync(address, port, cts.Token);
        }
        catch (Exception e) when (IsNoAnswer(e, ct)) { return null; }

        await using var network = new NetworkStream(socket, ownsSocket: false);
        Stream stream = network;
        DiameterAnswer answer;
        try
        {
            if (tls is not null) stream = await tls.HandshakeAsync(network, cts.Token);
            var local = ((IPEndPoint)socket.LocalEndPoint!).Address;
            if (local.IsIPv4MappedToIPv6) local = local.MapToIPv4();
            var (hopByHop, endToEnd) = NewIds();
            await stream.WriteAsync(EncodeCer(originHost, originRealm, local, hopByHop, endToEnd), cts.Token);
            while (true)
            {
                var message = await ReadMessageAsync(stream, cts.Token);
                var header = DiameterHeader.Parse(message);
                // A CER gets one answer; a request from the peer (none is expected before the CEA) is not answered.
                if (header.IsRequest) continue;
                if (header.CommandCode != CapabilitiesExchange || header.HopByHop != hopByHop)
                    throw new InvalidDataException(
                        $"expected a CEA, got answer {header.CommandCode} with hop-by-hop id {header.HopByHop:x8}");
                answer = ParseCea(message);
                break;
            }
        }
        catch (Exception e) when (IsNoAnswer(e, ct)) { return null; }

        if (answer.ResultCode == DiameterSuccess)
        {
            var goodbye = timeout < TimeSpan.FromSeconds(1) ? timeout : TimeSpan.FromSeconds(1);
            await DisconnectAsync(stream, originHost, originRealm, goodbye, ct);
        }
        if (stream != network) await stream.DisposeAsync();
        return answer;
    }

    /// <summary>Timeout, refused, reset or closed: no answer. A malformed answer (<see cref="InvalidDataException"/>) is
    /// not this.</summary>
    private static bool IsNoAnswer(Exception e, CancellationToken ct) => e switch
    {
        OperationCanceledException => !ct.IsCancellationRequested,
        SocketException => true,
        InvalidDataException => false,
        IOException => true, // reset, or EndOfStreamException when the peer closed
        System.Security.Authentication.AuthenticationException => true, // the TLS handshake failed
        _ => false,
    };

    /// <summary>The health verdict on a CEA: 2001 and 3010 both prove a live Diameter stack.</summary>
    public static HealthResult Verdict(DiameterAnswer? answer, IPAddress address, int port, TimeSpan timeout)
    {
        if (answer is null)
            return new HealthResult(false, $"no CEA from {address}:{port} within {timeout.TotalSeconds:0.#} s");
        var from = $"from {Printable(answer.OriginHost)}" + (answer.ProductName is { } p ? $" ({Printable(p)})" : "");
        return answer.ResultCode switch
        {
            DiameterSuccess => new HealthResult(true, $"CEA DIAMETER_SUCCESS (2001) {from}"),
            DiameterUnknownPeer => new HealthResult(true, $"CEA DIAMETER_UNKNOWN_PEER (3010) {from}: alive, we are not a configured peer"),
            var code => new HealthResult(false, $"CEA Result-Code {code} {from} at {address}:{port}"),
        };
    }

    private static async Task DisconnectAsync(Stream stream, string originHost, string originRealm, TimeSpan wait, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(wait);
        try
        {
            var (hopByHop, endToEnd) = NewIds();
            await stream.WriteAsync(EncodeDpr(originHost, originRealm, DoNotWantToTalkToYou, hopByHop, endToEnd), cts.Token);
            while (true)
            {
                var header = DiameterHeader.Parse(await ReadMessageAsync(stream, cts.Token));
                if (!header.IsRequest && header.CommandCode == DisconnectPeer && header.HopByHop == hopByHop) return;
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested) { }
        catch (Exception e) when (e is IOException or SocketException) { } // incl. InvalidDataException: we are leaving anyway
    }

    private static (uint HopByHop, uint EndToEnd) NewIds()
    {
        // RFC 6733 3: end-to-end ids start with the low 12 bits of the time, the low 20 bits random.
        var seconds = (uint)(DateTimeOffset.UtcNow.ToUnixTimeSeconds() & 0xfff);
        return ((uint)Random.Shared.NextInt64(0, 1L << 32), seconds << 20 | (uint)Random.Shared.Next(1 << 20));
    }

    /// <summary>A peer's string as safe to show in one line of a log.</summary>
    private static string Printable(string s)
    {
        var clean = new string(s.Select(c => char.IsControl(c) ? '?' : c).ToArray());
        return clean.Length <= 100 ? clean : clean[..100] + "…";
    }
}
