using System.Buffers.Binary;
using System.Text;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace Deploy.Transport;

/// <summary>Host keys during a connect: offering the pinned key types first, reading a key blob's type, comparing and describing pins, the per-attempt verdict.</summary>
public sealed partial class SshHostConnector
{
    /// <summary>
    /// Like OpenSSH: offer first the host key algorithms of the key types already pinned for the host, so that a
    /// server with several host keys presents the pinned one. Certificate algorithms are not offered (keys are pinned, not CAs).
    /// </summary>
    private static void PreferPinnedKeyTypes(ConnectionInfo info, IReadOnlyList<PinnedHostKey> pins)
    {
        var algorithms = info.HostKeyAlgorithms;
        foreach (var name in algorithms.Keys.Where(k => k.Contains("-cert-v01@", StringComparison.Ordinal)).ToList())
            algorithms.Remove(name);
        if (pins.Count == 0)
            return;
        var pinnedTypes = pins.Select(p => p.KeyType).ToHashSet(StringComparer.Ordinal);
        var preferred = algorithms.Keys.Where(k => pinnedTypes.Contains(KeyTypeOfAlgorithm(k))).ToList();
        for (var i = 0; i < preferred.Count; i++)
            algorithms.SetPosition(preferred[i], i);
    }

    private static string KeyTypeOfAlgorithm(string algorithm) => algorithm is "rsa-sha2-256" or "rsa-sha2-512" ? "ssh-rsa" : algorithm;

    /// <summary>The key type named inside an SSH public key blob (its first string).</summary>
    internal static string? KeyTypeOfBlob(byte[] blob)
    {
        if (blob.Length < 4)
            return null;
        var length = BinaryPrimitives.ReadUInt32BigEndian(blob);
        if (length == 0 || length > blob.Length - 4)
            return null;
        return Encoding.ASCII.GetString(blob, 4, (int)length);
    }

    private static bool SameKey(PinnedHostKey pinned, PinnedHostKey presented)
    {
        if (pinned.KeyType != presented.KeyType)
            return false;
        try
        {
            return Convert.FromBase64String(pinned.KeyBase64).AsSpan().SequenceEqual(Convert.FromBase64String(presented.KeyBase64));
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private static string DescribePins(IReadOnlyList<PinnedHostKey> pins, PinnedHostKey presented)
    {
        var sameType = pins.Where(p => p.KeyType == presented.KeyType).ToList();
        var shown = sameType.Count > 0 ? sameType : pins;
        return string.Join(" or ", shown.Select(p =>
        {
            try
            {
                return p.ToString();
            }
            catch (FormatException)
            {
                return $"(unreadable {p.KeyType} key)";
            }
        }));
    }

    /// <summary>Per-attempt host key verdict, given by SSH.NET during key exchange (after the server proved it holds the key).</summary>
    private sealed class HostKeyCheck(IReadOnlyList<PinnedHostKey> pins)
    {
        public PinnedHostKey? Presented { get; private set; }
        public bool Refused { get; private set; }

        public void OnHostKey(object? sender, HostKeyEventArgs e)
        {
            var blob = e.HostKey;
            var presented = new PinnedHostKey(KeyTypeOfBlob(blob) ?? e.HostKeyName, Convert.ToBase64String(blob));
            Presented = presented;
            var trusted = pins.Count == 0 || pins.Any(p => SameKey(p, presented));
            Refused = !trusted;
            e.CanTrust = trusted;
        }
    }
}
