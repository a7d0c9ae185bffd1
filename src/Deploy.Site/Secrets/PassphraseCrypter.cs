using System.Security.Cryptography;
using System.Text;
using Deploy.Core.Model;
using Deploy.Core.Secrets;

namespace Deploy.Site.Secrets;

/// <summary>
/// Pulumi's passphrase secrets provider: a key derived from the passphrase (PBKDF2-SHA256, 1,000,000 iterations) and
/// the stack's salt; values sealed with AES-256-GCM as <c>v1:&lt;nonce&gt;:&lt;ciphertext+tag&gt;</c> (base64). The stack
/// file keeps <c>encryptionsalt: v1:&lt;salt&gt;:&lt;"pulumi" sealed&gt;</c>, which tells a wrong passphrase at once.
/// </summary>
public sealed class PassphraseCrypter
{
    private const int Iterations = 1_000_000;
    private const string Check = "pulumi";
    private readonly byte[] _key;

    private PassphraseCrypter(byte[] key) => _key = key;

    /// <summary>The passphrase from PULUMI_CONFIG_PASSPHRASE or the file named by PULUMI_CONFIG_PASSPHRASE_FILE.</summary>
    public static string? PassphraseFromEnvironment()
    {
        // as in Pulumi, an empty passphrase counts as none
        var phrase = Environment.GetEnvironmentVariable("PULUMI_CONFIG_PASSPHRASE");
        if (!string.IsNullOrEmpty(phrase)) return phrase;
        var file = Environment.GetEnvironmentVariable("PULUMI_CONFIG_PASSPHRASE_FILE");
        if (string.IsNullOrEmpty(file)) return null;
        try { var fromFile = File.ReadAllText(file).TrimEnd('\n', '\r'); return fromFile.Length == 0 ? null : fromFile; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DeployException($"cannot read PULUMI_CONFIG_PASSPHRASE_FILE {file}: {e.Message}");
        }
    }

    /// <summary>A new salt for a stack that has no secrets yet, and its encryptionsalt line value.</summary>
    public static (PassphraseCrypter Crypter, string EncryptionSalt) Create(string passphrase)
    {
        var salt = RandomNumberGenerator.GetBytes(8);
        var crypter = new PassphraseCrypter(Derive(passphrase, salt));
        return (crypter, $"v1:{Convert.ToBase64String(salt)}:{crypter.Encrypt(Check)}");
    }

    /// <summary>Opens a stack's encryptionsalt with the passphrase; a wrong passphrase is a clear error.</summary>
    public static PassphraseCrypter Open(string passphrase, string encryptionSalt, string stack)
    {
        var (salt, check) = ParseSalt(encryptionSalt, stack);
        return Checked(new PassphraseCrypter(Derive(passphrase, salt)), check, stack);
    }

    /// <summary>As <see cref="Open"/>, with the key taken from <paramref name="cache"/> when it holds it for this
    /// passphrase and salt, and given to it once derived. A key from the cache must still open the stack's check.</summary>
    public static async Task<PassphraseCrypter> OpenAsync(string passphrase, string encryptionSalt, string stack, IDerivedKeyCache? cache, CancellationToken ct)
    {
        if (cache is null) return Open(passphrase, encryptionSalt, stack);
        var (salt, check) = ParseSalt(encryptionSalt, stack);
        var id = CacheId(passphrase, salt);
        byte[]? kept = null;
        try { kept = await cache.GetAsync(id, ct); }
        catch (Exception) when (!ct.IsCancellationRequested) { } // a cache that fails is a miss
        if (kept is { Length: 32 } && new PassphraseCrypter(kept) is var cached && cached.TryDecrypt(check) == Check)
            return cached;
        var crypter = Checked(new PassphraseCrypter(Derive(passphrase, salt)), check, stack);
        try { await cache.PutAsync(id, crypter._key, ct); }
        catch (Exception) when (!ct.IsCancellationRequested) { } // the next run derives it again
        return crypter;
    }

    /// <summary>Where a cache keeps the key of this passphrase and salt: an HMAC of the passphrase under the salt.</summary>
    public static string CacheId(string passphrase, byte[] salt) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(salt, Encoding.UTF8.GetBytes("nf-deploy derived key v1\n" + passphrase)));

    private static (byte[] Salt, string Check) ParseSalt(string encryptionSalt, string stack)
    {
        var parts = encryptionSalt.Split(':', 3);
        byte[]? salt = null;
        if (parts.Length == 3 && parts[0] == "v1")
            try { salt = Convert.FromBase64String(parts[1]); }
            catch (FormatException) { }
        return salt is null ? throw new DeployException($"stack {stack}: encryptionsalt is not of the form v1:<salt>:<check>") : (salt, parts[2]);
    }

    private static PassphraseCrypter Checked(PassphraseCrypter crypter, string check, string stack) =>
        crypter.TryDecrypt(check) == Check ? crypter
            : throw new DeployException($"stack {stack}: incorrect passphrase (PULUMI_CONFIG_PASSPHRASE does not open this stack's secrets)");

    private static byte[] Derive(string passphrase, byte[] salt) =>
        Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(passphrase), salt, Iterations, HashAlgorithmName.SHA256, 32);

    /// <summary>A key for the hashes of secrets in the state file, derived from this stack's key: without the passphrase
    /// a state file's hashes cannot be checked against a dictionary.</summary>
    public string StateHashKey => Convert.ToBase64String(HMACSHA256.HashData(_key, "nf-deploy state hashes v1"u8));

    public string Encrypt(string plaintext)
    {
        var nonce = RandomNumberGenerator.GetBytes(12);
        var data = Encoding.UTF8.GetBytes(plaintext);
        var sealedBytes = new byte[data.Length + 16];
        using var gcm = new AesGcm(_key, 16);
        gcm.Encrypt(nonce, data, sealedBytes.AsSpan(0, data.Length), sealedBytes.AsSpan(data.Length));
        return $"v1:{Convert.ToBase64String(nonce)}:{Convert.ToBase64String(sealedBytes)}";
    }

    public string Decrypt(string ciphertext, string what) =>
        TryDecrypt(ciphertext) ?? throw new DeployException($"{what}: cannot decrypt (a value sealed with another passphrase?)");

    private string? TryDecrypt(string ciphertext)
    {
        var parts = ciphertext.Split(':');
        if (parts.Length != 3 || parts[0] != "v1") return null;
        try
        {
            var nonce = Convert.FromBase64String(parts[1]);
            var sealedBytes = Convert.FromBase64String(parts[2]);
            if (nonce.Length != 12 || sealedBytes.Length < 16) return null;
            var plain = new byte[sealedBytes.Length - 16];
            using var gcm = new AesGcm(_key, 16);
            gcm.Decrypt(nonce, sealedBytes.AsSpan(0, plain.Length), sealedBytes.AsSpan(plain.Length), plain);
            return Encoding.UTF8.GetString(plain);
        }
        catch (Exception e) when (e is FormatException or CryptographicException) { return null; }
    }
}
