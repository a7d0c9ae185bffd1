using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Deploy.Resources.Health;

/// <summary>The Diameter message codec: CER and DPR encoding, reading one message from a stream, CEA and header parsing, AVPs.</summary>
public static partial class DiameterProbe
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
    /// <exception cref="InvalidDataException">Not Diameter version 1, or a length under 20 or over
    /// <see cref="MaxMessageLength"/>.</exception>
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
}
