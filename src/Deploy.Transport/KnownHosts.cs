using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Deploy.Core.Transport;

namespace Deploy.Transport;

/// <summary>One host key pinned for a host: its key type (<c>ssh-ed25519</c>, <c>ssh-rsa</c>, ...) and public key blob.</summary>
public sealed record PinnedHostKey(string KeyType, string KeyBase64)
{
    /// <summary>OpenSSH style fingerprint, <c>SHA256:...</c> (as printed by <c>ssh-keygen -lf</c>).</summary>
    public string Fingerprint => KnownHosts.Fingerprint(Convert.FromBase64String(KeyBase64));

    public override string ToString() => $"{Fingerprint} ({KeyType})";
}

/// <summary>
/// SSH host keys pinned on first contact, in an OpenSSH <c>known_hosts</c> file
/// (<c>addr keytype base64</c> for port 22, <c>[addr]:port keytype base64</c> otherwise), so that
/// <c>ssh -o UserKnownHostsFile=FILE</c> can use the same file.
/// Reading understands plain, comma separated, wildcard (<c>*</c>, <c>?</c>, <c>!</c>negated) and hashed
/// (<c>|1|salt|hash</c>) host patterns; marker lines (<c>@cert-authority</c>, <c>@revoked</c>) and comments are kept
/// but not used. Writes are serialised by a lock (one instance per file per process) and atomic (temp file + rename).
/// </summary>
public sealed partial class KnownHosts : IHostKeyStore
{
    private readonly SemaphoreSlim _writeLock = new(1, 1);

    public KnownHosts(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Path = System.IO.Path.GetFullPath(path);
    }

    /// <summary>Full path of the known_hosts file.</summary>
    public string Path { get; }

    /// <summary>The host pattern OpenSSH uses for an address and port: <c>addr</c> for 22, <c>[addr]:port</c> otherwise.</summary>
    public static string HostPattern(string address, int port) =>
        port == 22 ? address.ToLowerInvariant() : $"[{address.ToLowerInvariant()}]:{port}";

    /// <summary>OpenSSH SHA256 fingerprint of a public key blob: <c>SHA256:</c> + unpadded base64.</summary>
    public static string Fingerprint(byte[] keyBlob) =>
        "SHA256:" + Convert.ToBase64String(SHA256.HashData(keyBlob)).TrimEnd('=');

    /// <summary>The keys pinned for a host (empty when it was never contacted).</summary>
    public async Task<IReadOnlyList<PinnedHostKey>> LookupAsync(string address, int port, CancellationToken ct)
    {
        var lines = await ReadLinesAsync(ct).ConfigureAwait(false);
        return Matches(lines, HostPattern(address, port));
    }

    /// <summary>
    /// Pins <paramref name="presented"/> for the host unless keys are pinned for it already. Returns the keys that
    /// were pinned before: empty when the key was just recorded; the caller must refuse the key when the list is
    /// not empty and does not contain it.
    /// </summary>
    internal async Task<IReadOnlyList<PinnedHostKey>> PinAsync(string address, int port, PinnedHostKey presented, CancellationToken ct)
    {
        var pattern = HostPattern(address, port);
        await _writeLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var lines = await ReadLinesAsync(ct).ConfigureAwait(false);
            var existing = Matches(lines, pattern);
            if (existing.Count > 0)
                return existing;
            var updated = new List<string>(lines) { $"{pattern} {presented.KeyType} {presented.KeyBase64}" };
            await WriteAtomicallyAsync(updated, ct).ConfigureAwait(false);
            return [];
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Drops the pins of a host (used when a lab host is destroyed and recreated). True when something was removed.</summary>
    public async Task<bool> ForgetAsync(string address, int port, CancellationToken ct)
    {
        var pattern = HostPattern(address, port);
        await _writeLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var lines = await ReadLinesAsync(ct).ConfigureAwait(false);
            var (kept, removed) = Without(lines, pattern);
            if (removed)
                await WriteAtomicallyAsync(kept, ct).ConfigureAwait(false);
            return removed;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Synchronous <see cref="ForgetAsync"/> (for <see cref="IHostKeyStore"/>).</summary>
    public void Forget(string address, int port)
    {
        var pattern = HostPattern(address, port);
        _writeLock.Wait();
        try
        {
            var lines = File.Exists(Path) ? File.ReadAllLines(Path) : [];
            var (kept, removed) = Without(lines, pattern);
            if (removed)
                WriteAtomically(kept);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    // ---- parsing ----

    private async Task<string[]> ReadLinesAsync(CancellationToken ct)
    {
        try
        {
            return await File.ReadAllLinesAsync(Path, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return [];
        }
    }

    private readonly record struct Entry(string[] Patterns, string KeyType, string KeyBase64);

    private static Entry? Parse(string line)
    {
        var t = line.Trim();
        if (t.Length == 0 || t[0] == '#' || t[0] == '@')
            return null;
        var fields = t.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 3)
            return null;
        return new Entry(fields[0].Split(','), fields[1], fields[2]);
    }

    private static IReadOnlyList<PinnedHostKey> Matches(IEnumerable<string> lines, string hostPattern)
    {
        var result = new List<PinnedHostKey>();
        foreach (var line in lines)
        {
            if (Parse(line) is { } e && EntryMatches(e.Patterns, hostPattern))
                result.Add(new PinnedHostKey(e.KeyType, e.KeyBase64));
        }
        return result;
    }

    private static bool EntryMatches(string[] patterns, string host)
    {
        var matched = false;
        foreach (var p in patterns)
        {
            if (p.StartsWith('!'))
            {
                if (PatternMatches(p[1..], host))
                    return false;
            }
            else if (PatternMatches(p, host))
            {
                matched = true;
            }
        }
        return matched;
    }

    private static bool PatternMatches(string pattern, string host)
    {
        if (pattern.StartsWith("|1|", StringComparison.Ordinal))
            return HashedMatches(pattern, host);
        if (pattern.AsSpan().IndexOfAny('*', '?') < 0)
            return string.Equals(pattern, host, StringComparison.OrdinalIgnoreCase);
        var regex = "^" + Regex.Escape(pattern).Replace(@"\*", ".*").Replace(@"\?", ".") + "$";
        return Regex.IsMatch(host, regex, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
    }

    private static bool HashedMatches(string pattern, string host)
    {
        var parts = pattern.Split('|'); // "", "1", salt, hash
        if (parts.Length != 4)
            return false;
        try
        {
            var salt = Convert.FromBase64String(parts[2]);
            var hash = Convert.FromBase64String(parts[3]);
            var actual = HMACSHA1.HashData(salt, Encoding.ASCII.GetBytes(host));
            return CryptographicOperations.FixedTimeEquals(actual, hash);
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>The lines without the host's own patterns (a line left with no pattern is dropped; wildcard lines are kept).</summary>
    private static (List<string> Kept, bool Removed) Without(IEnumerable<string> lines, string hostPattern)
    {
        var kept = new List<string>();
        var removed = false;
        foreach (var line in lines)
        {
            if (Parse(line) is not { } e)
            {
                kept.Add(line);
                continue;
            }
            var remaining = e.Patterns
                .Where(p => !(p.StartsWith("|1|", StringComparison.Ordinal)
                    ? HashedMatches(p, hostPattern)
                    : string.Equals(p, hostPattern, StringComparison.OrdinalIgnoreCase)))
                .ToArray();
            if (remaining.Length == e.Patterns.Length)
            {
                kept.Add(line);
                continue;
            }
            removed = true;
            if (remaining.Length > 0 && remaining.Any(p => !p.StartsWith('!')))
            {
                var rest = line.Trim().Split([' ', '\t'], 2, StringSplitOptions.RemoveEmptyEntries)[1];
                kept.Add(string.Join(',', remaining) + " " + rest);
            }
        }
        return (kept, removed);
    }
}
