using System.Security.Cryptography;
using System.Text;
using Deploy.Core.Model;

namespace Deploy.Site.Compile;

/// <summary>Fetches apt signing keys on the controller (hosts may be air-gapped) and caches them under
/// <c>.nf-deploy/cache/keys/</c>, so offline runs and re-runs need no network.</summary>
public interface IKeyFetcher
{
    /// <param name="url">https://, http:// (pinned by a fingerprint) or file:// (a file inside the project, already checked).</param>
    /// <param name="verify">Throws when the text is not the key the site wants (not a key, another fingerprint): run on
    /// every key handed out, fetched or taken from the cache.</param>
    Task<string> FetchAsync(string url, Action<string> verify, CancellationToken ct);
}

/// <param name="offline">Never fetch: a key not in the cache renders as a placeholder comment (for `render`).</param>
public sealed class HttpKeyFetcher(string cacheDir, HttpClient http, bool offline = false) : IKeyFetcher
{
    public async Task<string> FetchAsync(string url, Action<string> verify, CancellationToken ct)
    {
        var shown = KeySource.Shown(url);
        if (url.StartsWith("file://", StringComparison.Ordinal))
        {
            var path = url["file://".Length..];
            if (!File.Exists(path)) throw new DeployException($"apt key file {path} not found");
            if (new FileInfo(path).Length > 1024 * 1024) throw new DeployException($"apt key file {path} is over 1 MiB: not a key");
            var local = await File.ReadAllTextAsync(path, ct);
            verify(local);
            return local;
        }
        var cached = Path.Combine(cacheDir, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(url)))[..24] + ".asc");
        if (File.Exists(cached))
        {
            var text = await File.ReadAllTextAsync(cached, ct);
            try
            {
                verify(text);
                return text;
            }
            catch (DeployException) when (!offline) { } // a cached key that is not the one pinned: fetched again
        }
        if (offline) return $"# apt key from {shown}: not fetched yet (offline render)\n";
        string fetched;
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(TimeSpan.FromSeconds(20));
            fetched = await http.GetStringAsync(url, cts.Token);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            throw new DeployException($"cannot fetch apt key {shown}: {e.Message.Replace(url, shown, StringComparison.Ordinal)}");
        }
        verify(fetched);
        Directory.CreateDirectory(cacheDir);
        var tmp = $"{cached}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        await File.WriteAllTextAsync(tmp, fetched, ct);
        File.Move(tmp, cached, overwrite: true);
        return fetched;
    }
}
