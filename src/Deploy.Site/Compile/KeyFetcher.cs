using System.Security.Cryptography;
using System.Text;
using Deploy.Core.Model;

namespace Deploy.Site.Compile;

/// <summary>Fetches apt signing keys on the controller (hosts may be air-gapped) and caches them under
/// <c>.nf-deploy/cache/keys/</c>, so offline runs and re-runs need no network.</summary>
public interface IKeyFetcher
{
    Task<string> FetchAsync(string url, CancellationToken ct);
}

/// <param name="offline">Never fetch: a key not in the cache renders as a placeholder comment (for `render`).</param>
public sealed class HttpKeyFetcher(string cacheDir, HttpClient http, bool offline = false) : IKeyFetcher
{
    public async Task<string> FetchAsync(string url, CancellationToken ct)
    {
        var cached = Path.Combine(cacheDir, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(url)))[..24] + ".asc");
        if (File.Exists(cached)) return await File.ReadAllTextAsync(cached, ct);
        if (offline) return $"# apt key from {url}: not fetched yet (offline render)\n";
        string text;
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(TimeSpan.FromSeconds(20));
            text = await http.GetStringAsync(url, cts.Token);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            throw new DeployException($"cannot fetch apt key {url}: {e.Message}");
        }
        if (!text.Contains("BEGIN PGP PUBLIC KEY BLOCK", StringComparison.Ordinal))
            throw new DeployException($"apt key {url} is not an ASCII-armored OpenPGP public key");
        Directory.CreateDirectory(cacheDir);
        await File.WriteAllTextAsync(cached, text, ct);
        return text;
    }
}
