using System.Buffers.Binary;

namespace Deploy.Resources.Health;

/// <summary>A decoded GTPv2-C Echo Response: the sequence number it answers and the peer's Recovery (restart counter).</summary>
public sealed record Gtpv2EchoResponse(uint Sequence, byte? Recovery);

/// <summary>
/// GTPv2-C Echo Request / Echo Response (3GPP TS 29.274 §7.1.1-7.1.2), the liveness probe of a GTP-C endpoint
/// (UDP 2123). Header without TEID (§5.5.1): octet 1 = version 2 in bits 8-6, P=0, T=0 (0x40); octet 2 = message
/// type (1 request, 2 response); octets 3-4 = length of what follows octet 4; octets 5-7 = sequence number; octet 8
/// spare. The request carries the mandatory Recovery IE (type 3, length 1, instance 0; §8.5).
/// </summary>
public static class Gtpv2Echo
{
    public const byte EchoRequest = 1;
    public const byte EchoResponse = 2;
    public const byte RecoveryIe = 3;
    private const int HeaderLength = 8;

    public static byte[] Request(uint sequence, byte recovery)
    {
        if (sequence > 0xFFFFFF) throw new ArgumentOutOfRangeException(nameof(sequence), "a GTPv2-C sequence number has 24 bits");
        var m = new byte[HeaderLength + 5];
        m[0] = 0x40;
        m[1] = EchoRequest;
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(2), (ushort)(m.Length - 4));
        m[4] = (byte)(sequence >> 16); m[5] = (byte)(sequence >> 8); m[6] = (byte)sequence;
        m[8] = RecoveryIe;
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(9), 1);
        m[11] = 0; // spare + instance 0
        m[12] = recovery;
        return m;
    }

    /// <summary>Decodes an Echo Response; <see cref="InvalidDataException"/> says what is wrong with anything else.</summary>
    public static Gtpv2EchoResponse DecodeResponse(ReadOnlySpan<byte> m)
    {
        if (m.Length < HeaderLength) throw new InvalidDataException($"{m.Length} bytes, shorter than a GTPv2-C header");
        var version = m[0] >> 5;
        if (version != 2) throw new InvalidDataException($"GTP version {version}, not 2");
        if ((m[0] & 0x08) != 0) throw new InvalidDataException("an Echo Response has no TEID, but the T flag is set");
        if (m[1] != EchoResponse) throw new InvalidDataException($"message type {m[1]}, not Echo Response (2)");
        var length = BinaryPrimitives.ReadUInt16BigEndian(m[2..]);
        if (length + 4 > m.Length) throw new InvalidDataException($"length field {length} exceeds the {m.Length - 4} bytes received");
        var sequence = (uint)(m[4] << 16 | m[5] << 8 | m[6]);
        byte? recovery = null;
        var ies = m[HeaderLength..(length + 4)];
        while (ies.Length > 0)
        {
            if (ies.Length < 4) throw new InvalidDataException("a truncated information element");
            var type = ies[0];
            var ieLength = BinaryPrimitives.ReadUInt16BigEndian(ies[1..]);
            if (4 + ieLength > ies.Length) throw new InvalidDataException($"information element {type} of length {ieLength} is truncated");
            if (type == RecoveryIe && ieLength >= 1) recovery = ies[4];
            ies = ies[(4 + ieLength)..];
        }
        return new Gtpv2EchoResponse(sequence, recovery);
    }
}
