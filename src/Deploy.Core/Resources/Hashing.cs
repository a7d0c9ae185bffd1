using System.Security.Cryptography;
using System.Text;

namespace Deploy.Core.Resources;

public static class Hashing
{
    public static string Sha256Hex(string text) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    /// <summary>What the state keeps of something secret: an HMAC-SHA256 keyed by the stack's own key (derived from its
    /// passphrase, never stored), so that a state file alone allows no dictionary attack. An empty key (a stack without
    /// secrets) still gives a well-formed value.</summary>
    public static string Keyed(string text, string key) =>
        "hmac-sha256:" + Convert.ToHexStringLower(HMACSHA256.HashData(
            key.Length == 0 ? "nf-deploy"u8.ToArray() : Convert.FromBase64String(key), Encoding.UTF8.GetBytes(text)));
}
