using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Deploy.Core.Model;

namespace Deploy.Resources.Health;

/// <summary>What a Diameter peer said in its Capabilities-Exchange-Answer.</summary>
public sealed record DiameterAnswer(uint ResultCode, string OriginHost, string OriginRealm, string? ProductName);

/// <summary>
/// A minimal Diameter client (RFC 6733) for health checks: over TCP, one CER/CEA exchange and,
/// when the peer accepted us (2001), an orderly DPR/DPA before closing. No state is kept between calls.
/// </summary>
public static class DiameterProbe
{
    public const int DefaultPort = 3868;
    public const uint DiameterSuccess = 2001;
    public const uint DiameterUnknownPeer = 3010;

    /// <summary>Largest message accepted from a peer; a CEA is a few hundred bytes.</summary>
    public const int MaxMessageLength = 64 * 1024;

    public const int HeaderLength = 20;
    public const uint CapabilitiesExchange = 257;
    public const uint DisconnectPeer = 282;

    public const byte FlagRequest = 0x80;
    public const byte FlagError = 0x20;
    public const byte AvpFlagVendor = 0x80;
    public const byte AvpFlagMandatory = 0x40;

    public const uint AvpHostIpAddress = 257;
    public const uint AvpAuthApplicationId = 258;
    public const uint AvpOriginHost = 264;
    public const uint AvpVendorId = 266;
    public const uint AvpResultCode = 268;
    public const uint AvpProductName = 269;
    public const uint AvpDisconnectCause = 273;
    public const uint AvpOriginRealm = 296;

    public const uint RelayApplicationId = 0xffffffff;
    public const uint DoNotWantToTalkToYou = 2;
    public const string ProductName = "nf-deploy";

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
            if (tls is not null)
            {
                var ssl = new System.Net.Security.SslStream(network, leaveInnerStreamOpen: true, (_, cert, _, errors) => tls.Trusts(cert, errors));
                stream = ssl;
                await ssl.AuthenticateAsClientAsync(new System.Net.Security.SslClientAuthenticationOptions
                {
                    TargetHost = tls.ServerName,
                    ClientCertificates = [tls.ClientCertificate],
                }, cts.Token);
            }
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
                    throw new InvalidDataException($"expected a CEA, got answer {header.CommandCode} with hop-by-hop id {header.HopByHop:x8}");
                answer = ParseCea(message);
                break;
            }
        }
        catch (Exception e) when (IsNoAnswer(e, ct)) { return null; }

        if (answer.ResultCode == DiameterSuccess)
            await DisconnectAsync(stream, originHost, originRealm, timeout < TimeSpan.FromSeconds(1) ? timeout : TimeSpan.FromSeconds(1), ct);
        if (stream != network) await stream.DisposeAsync();
        return answer;
    }

    /// <summary>Timeout, refused, reset or closed: no answer. A malformed answer (<see cref="InvalidDataException"/>) is not this.</summary>
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

    /// <summary>The CER this probe sends (RFC 6733 5.3.1), with the AVPs in a fixed order.</summary>
    public static byte[] EncodeCer(string originHost, string originRealm, IPAddress hostIp, uint hopByHop, uint endToEnd)
    {
        var avps = new List<byte[]>
        {
            Avp(AvpOriginHost, AvpFlagMandatory, Encoding.UTF8.GetBytes(originHost)),
            Avp(AvpOriginRealm, AvpFlagMandatory, Encoding.UTF8.GetBytes(originRealm)),
            Avp(AvpHostIpAddress, AvpFlagMandatory, AddressData(hostIp)),
            Avp(AvpVendorId, AvpFlagMandatory, U32(0)),
            Avp(AvpProductName, 0, Encoding.UTF8.GetBytes(ProductName)), // RFC 6733 4.5: Product-Name MUST NOT have M
            Avp(AvpAuthApplicationId, AvpFlagMandatory, U32(RelayApplicationId)),
        };
        return Message(FlagRequest, CapabilitiesExchange, 0, hopByHop, endToEnd, avps);
    }

    /// <summary>The DPR (RFC 6733 5.4.1) sent to close a connection the peer accepted.</summary>
    public static byte[] EncodeDpr(string originHost, string originRealm, uint disconnectCause, uint hopByHop, uint endToEnd) =>
        Message(FlagRequest, DisconnectPeer, 0, hopByHop, endToEnd,
        [
            Avp(AvpOriginHost, AvpFlagMandatory, Encoding.UTF8.GetBytes(originHost)),
            Avp(AvpOriginRealm, AvpFlagMandatory, Encoding.UTF8.GetBytes(originRealm)),
            Avp(AvpDisconnectCause, AvpFlagMandatory, U32(disconnectCause)),
        ]);

    /// <summary>Reads one whole message: the 20-byte header, then the rest as its length says, however the bytes arrive.</summary>
    /// <exception cref="InvalidDataException">Not Diameter version 1, or a length under 20 or over <see cref="MaxMessageLength"/>.</exception>
    /// <exception cref="EndOfStreamException">The stream ended before the message did.</exception>
    public static async Task<byte[]> ReadMessageAsync(Stream stream, CancellationToken ct)
    {
        var header = new byte[HeaderLength];
        await stream.ReadExactlyAsync(header, ct);
        var length = CheckHeader(header);
        var message = new byte[length];
        header.CopyTo(message, 0);
        await stream.ReadExactlyAsync(message.AsMemory(HeaderLength), ct);
        return message;
    }

    /// <summary>Parses a CEA: Result-Code is required; Origin-Host and Origin-Realm read as "" when missing.</summary>
    /// <exception cref="InvalidDataException">Not a CEA, malformed, or without a Result-Code.</exception>
    public static DiameterAnswer ParseCea(ReadOnlySpan<byte> message)
    {
        var header = DiameterHeader.Parse(message);
        if (header.CommandCode != CapabilitiesExchange || header.IsRequest)
            throw new InvalidDataException($"not a CEA: command {header.CommandCode}{(header.IsRequest ? " request" : "")}");
        uint? resultCode = null;
        string originHost = "", originRealm = "";
        string? productName = null;
        foreach (var avp in Avps(message[..header.Length]))
        {
            if (avp.VendorId != 0) continue;
            var data = message.Slice(avp.DataOffset, avp.DataLength);
            switch (avp.Code)
            {
                case AvpResultCode:
                    if (data.Length != 4) throw new InvalidDataException($"Result-Code of {data.Length} bytes");
                    resultCode = BinaryPrimitives.ReadUInt32BigEndian(data);
                    break;
                case AvpOriginHost: originHost = Encoding.UTF8.GetString(data); break;
                case AvpOriginRealm: originRealm = Encoding.UTF8.GetString(data); break;
                case AvpProductName: productName = Encoding.UTF8.GetString(data); break;
            }
        }
        return resultCode is { } rc
            ? new DiameterAnswer(rc, originHost, originRealm, productName)
            : throw new InvalidDataException("CEA without a Result-Code");
    }

    /// <summary>The fixed part of a Diameter message (RFC 6733 3).</summary>
    public readonly record struct DiameterHeader(int Length, byte Flags, uint CommandCode, uint ApplicationId, uint HopByHop, uint EndToEnd)
    {
        public bool IsRequest => (Flags & FlagRequest) != 0;
        public bool IsError => (Flags & FlagError) != 0;

        public static DiameterHeader Parse(ReadOnlySpan<byte> message)
        {
            if (message.Length < HeaderLength) throw new InvalidDataException($"message of {message.Length} bytes, shorter than a header");
            var length = CheckHeader(message);
            if (length > message.Length) throw new InvalidDataException($"message says {length} bytes, has {message.Length}");
            return new DiameterHeader(length, message[4], ReadU24(message[5..]),
                BinaryPrimitives.ReadUInt32BigEndian(message[8..]),
                BinaryPrimitives.ReadUInt32BigEndian(message[12..]),
                BinaryPrimitives.ReadUInt32BigEndian(message[16..]));
        }
    }

    private readonly record struct AvpSlot(uint Code, byte Flags, uint VendorId, int DataOffset, int DataLength);

    private static List<AvpSlot> Avps(ReadOnlySpan<byte> message)
    {
        var list = new List<AvpSlot>();
        var at = HeaderLength;
        while (at < message.Length)
        {
            if (message.Length - at < 8) throw new InvalidDataException($"truncated AVP header at offset {at}");
            var code = BinaryPrimitives.ReadUInt32BigEndian(message[at..]);
            var flags = message[at + 4];
            var length = (int)ReadU24(message[(at + 5)..]);
            var vendor = (flags & AvpFlagVendor) != 0;
            var headerLength = vendor ? 12 : 8;
            if (length < headerLength || length > message.Length - at)
                throw new InvalidDataException($"AVP {code} at offset {at} has length {length}, {message.Length - at} bytes left");
            var vendorId = vendor ? BinaryPrimitives.ReadUInt32BigEndian(message[(at + 8)..]) : 0u;
            list.Add(new AvpSlot(code, flags, vendorId, at + headerLength, length - headerLength));
            at += Math.Min(Pad4(length), message.Length - at); // tolerate a missing pad after the last AVP
        }
        return list;
    }

    private static int CheckHeader(ReadOnlySpan<byte> header)
    {
        if (header[0] != 1) throw new InvalidDataException($"not Diameter: version byte {header[0]}");
        var length = (int)ReadU24(header[1..]);
        if (length < HeaderLength || length > MaxMessageLength)
            throw new InvalidDataException($"Diameter message length {length} outside {HeaderLength}..{MaxMessageLength}");
        return length;
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

    private static byte[] Message(byte flags, uint command, uint applicationId, uint hopByHop, uint endToEnd, IReadOnlyList<byte[]> avps)
    {
        var length = HeaderLength + avps.Sum(a => a.Length);
        var m = new byte[length];
        m[0] = 1;
        WriteU24(m.AsSpan(1), (uint)length);
        m[4] = flags;
        WriteU24(m.AsSpan(5), command);
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(8), applicationId);
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(12), hopByHop);
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(16), endToEnd);
        var at = HeaderLength;
        foreach (var a in avps)
        {
            a.CopyTo(m, at);
            at += a.Length;
        }
        return m;
    }

    /// <summary>One AVP without vendor id, zero-padded to a multiple of 4 (the length field excludes the pad).</summary>
    private static byte[] Avp(uint code, byte flags, byte[] data)
    {
        var length = 8 + data.Length;
        if (length > MaxMessageLength) throw new ArgumentException($"AVP {code} of {length} bytes is too long");
        var a = new byte[Pad4(length)];
        BinaryPrimitives.WriteUInt32BigEndian(a, code);
        a[4] = flags;
        WriteU24(a.AsSpan(5), (uint)length);
        data.CopyTo(a, 8);
        return a;
    }

    /// <summary>The Address type (RFC 6733 4.3.1): a 2-byte IANA address family (1 IPv4, 2 IPv6), then the address.</summary>
    private static byte[] AddressData(IPAddress ip)
    {
        var raw = ip.GetAddressBytes();
        var data = new byte[2 + raw.Length];
        BinaryPrimitives.WriteUInt16BigEndian(data, ip.AddressFamily == AddressFamily.InterNetworkV6 ? (ushort)2 : (ushort)1);
        raw.CopyTo(data, 2);
        return data;
    }

    private static byte[] U32(uint v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, v);
        return b;
    }

    private static int Pad4(int n) => (n + 3) & ~3;

    private static uint ReadU24(ReadOnlySpan<byte> b) => (uint)(b[0] << 16 | b[1] << 8 | b[2]);

    private static void WriteU24(Span<byte> b, uint v)
    {
        if (v > 0xffffff) throw new ArgumentOutOfRangeException(nameof(v), v, "over 24 bits");
        b[0] = (byte)(v >> 16);
        b[1] = (byte)(v >> 8);
        b[2] = (byte)v;
    }

    /// <summary>A peer's string as safe to show in one line of a log.</summary>
    private static string Printable(string s)
    {
        var clean = new string(s.Select(c => char.IsControl(c) ? '?' : c).ToArray());
        return clean.Length <= 100 ? clean : clean[..100] + "…";
    }
}

/// <summary>TLS for a CER: the deployer's client certificate (from the site CA), and the CA and identity the peer must prove.</summary>
public sealed record DiameterTls(System.Security.Cryptography.X509Certificates.X509Certificate2 ClientCertificate,
    System.Security.Cryptography.X509Certificates.X509Certificate2 TrustedCa, string ServerName)
{
    /// <summary>From PEM files on the controller.</summary>
    public static DiameterTls FromFiles(string certFile, string keyFile, string caFile, string serverName)
    {
        using var pem = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(certFile, keyFile);
        // an ephemeral PEM key must be exported once to be usable by the TLS stack
        var client = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12(
            pem.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12), null);
        return new DiameterTls(client, System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(caFile), serverName);
    }

    /// <summary>The peer's certificate chains to the CA and names the expected identity.</summary>
    public bool Trusts(System.Security.Cryptography.X509Certificates.X509Certificate? presented, System.Net.Security.SslPolicyErrors errors)
    {
        if (presented is null) return false;
        using var cert = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
        using var chain = new System.Security.Cryptography.X509Certificates.X509Chain();
        chain.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(TrustedCa);
        chain.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
        return chain.Build(cert) && (errors & System.Net.Security.SslPolicyErrors.RemoteCertificateNameMismatch) == 0;
    }
}
