using System.Security.Cryptography;
using Deploy.Core.Model;

namespace Deploy.Site.Compile;

/// <summary>
/// An ASCII-armored OpenPGP public key, as apt reads it from <c>signed-by=</c>: the whole text must be one armored
/// block (nothing before or after it), and its primary key's fingerprint (RFC 4880 v4: SHA-1; v5/v6: SHA-256) is
/// what a site pins.
/// </summary>
public static class OpenPgpKey
{
    private const string Begin = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
    private const string End = "-----END PGP PUBLIC KEY BLOCK-----";

    /// <summary>The fingerprints (upper-case hex) of the primary keys in an armored block; throws when it is not one.</summary>
    public static IReadOnlyList<string> Fingerprints(string armored, string what)
    {
        var text = armored.Replace("\r", "").Trim();
        if (!text.StartsWith(Begin, StringComparison.Ordinal) || !text.EndsWith(End, StringComparison.Ordinal)
            || text.Split("-----BEGIN ").Length != 2 || text.Split("-----END ").Length != 2)
            throw new DeployException($"{what} is not an ASCII-armored OpenPGP public key (one '{Begin}' block and nothing else)");
        var lines = text.Split('\n')[1..^1];
        var body = Array.FindIndex(lines, l => l.Trim().Length == 0);
        var base64 = string.Concat(lines.Skip(body + 1).TakeWhile(l => !l.StartsWith('=')).Select(l => l.Trim()));
        byte[] data;
        try { data = Convert.FromBase64String(base64); }
        catch (FormatException) { throw new DeployException($"{what}: the armored key is not valid base64"); }
        var prints = new List<string>();
        for (var at = 0; at < data.Length;)
        {
            var (tag, start, length) = Packet(data, at, what);
            if (tag == 6) prints.Add(Fingerprint(data.AsSpan(start, length), what));
            at = start + length;
        }
        if (prints.Count == 0) throw new DeployException($"{what}: the armored block holds no public key");
        return prints;
    }

    /// <summary>A fingerprint as written by people (spaces, lower case, 0x) in the form <see cref="Fingerprints"/> gives.</summary>
    public static string Normalize(string fingerprint) =>
        string.Concat(fingerprint.Replace("0x", "", StringComparison.OrdinalIgnoreCase).Where(c => !char.IsWhiteSpace(c) && c != ':')).ToUpperInvariant();

    private static (int Tag, int Start, int Length) Packet(byte[] d, int at, string what)
    {
        var head = d[at];
        if ((head & 0x80) == 0) throw new DeployException($"{what}: not an OpenPGP packet at byte {at}");
        int tag, length, start;
        if ((head & 0x40) != 0)
        {
            tag = head & 0x3f;
            var first = d[at + 1];
            if (first < 192) (length, start) = (first, at + 2);
            else if (first < 224) (length, start) = (((first - 192) << 8) + d[at + 2] + 192, at + 3);
            else if (first == 255) (length, start) = ((d[at + 2] << 24) | (d[at + 3] << 16) | (d[at + 4] << 8) | d[at + 5], at + 6);
            else throw new DeployException($"{what}: partial-length packets are not a key");
        }
        else
        {
            tag = (head >> 2) & 0x0f;
            (length, start) = (head & 3) switch
            {
                0 => (d[at + 1], at + 2),
                1 => ((d[at + 1] << 8) | d[at + 2], at + 3),
                2 => ((d[at + 1] << 24) | (d[at + 2] << 16) | (d[at + 3] << 8) | d[at + 4], at + 5),
                _ => throw new DeployException($"{what}: indeterminate-length packets are not a key"),
            };
        }
        if (length < 0 || start + length > d.Length) throw new DeployException($"{what}: a packet runs past the end of the key");
        return (tag, start, length);
    }

    private static string Fingerprint(ReadOnlySpan<byte> body, string what)
    {
        if (body.Length == 0) throw new DeployException($"{what}: an empty public key packet");
        switch (body[0])
        {
            case 4:
                return Convert.ToHexString(SHA1.HashData([0x99, (byte)(body.Length >> 8), (byte)body.Length, .. body]));
            case 5 or 6:
                return Convert.ToHexString(SHA256.HashData([body[0] == 5 ? (byte)0x9a : (byte)0x9b,
                    (byte)(body.Length >> 24), (byte)(body.Length >> 16), (byte)(body.Length >> 8), (byte)body.Length, .. body]));
            default:
                throw new DeployException($"{what}: OpenPGP key version {body[0]} is not supported");
        }
    }
}
