using Deploy.Core.Model;

namespace Deploy.Site.Compile;

/// <summary>
/// Where an apt signing key may come from: <c>https://</c>, a file of the project (<c>file:///…</c> or a path, relative
/// to the project), or plain <c>http://</c> only when the key is pinned by its fingerprint (an internal mirror: the
/// fingerprint, not the transport, is then the trust anchor). A fingerprint, when given, is checked on every load,
/// fetched or cached.
/// </summary>
public static class KeySource
{
    /// <summary>The URL to hand to the <see cref="IKeyFetcher"/> (https, http, or file:// of a file inside the project), or an
    /// error message.</summary>
    public static (string? Url, string? Error) Resolve(string projectDir, string url, string? fingerprint)
    {
        if (url.Any(char.IsControl)) return (null, $"the URL '{Shown(url)}' holds control characters");
        if (url.StartsWith("https://", StringComparison.OrdinalIgnoreCase)) return (url, null);
        if (url.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
            return fingerprint is null
                ? (null, $"{Shown(url)} is plain HTTP, which anyone on the way can replace: use https://, a key file in the project, " +
                    "or pin the key with its fingerprint (the apt key's 'fingerprint:')")
                : (url, null);
        var local = url.StartsWith("file://", StringComparison.OrdinalIgnoreCase) ? Uri.UnescapeDataString(url["file://".Length..]) : url;
        if (url.Contains("://", StringComparison.Ordinal) && !url.StartsWith("file://", StringComparison.OrdinalIgnoreCase))
            return (null, $"{Shown(url)}: only https://, file:// (a file of the project) or http:// with a fingerprint are accepted");
        var path = Deploy.Core.Paths.ContainedPath.Resolve(projectDir, local);
        return path is null
            ? (null, $"file '{local}' is outside the project")
            : ("file://" + path, null);
    }

    /// <summary>Checks the key text: one armored public key block; with a fingerprint, exactly that one primary key.</summary>
    public static void Verify(string text, string url, string? fingerprint)
    {
        var prints = OpenPgpKey.Fingerprints(text, $"apt key {Shown(url)}");
        if (fingerprint is null) return;
        var want = OpenPgpKey.Normalize(fingerprint);
        if (prints.Count != 1 || prints[0] != want)
            throw new DeployException($"apt key {Shown(url)} has fingerprint {string.Join(", ", prints)}, not the pinned {want}: refused (a key replaced on the way, or a stale cache in .nf-deploy/cache/keys/)");
    }

    /// <summary>A URL as it may be printed: a user and password in it (<c>https://user:TOKEN@host</c>) are masked.</summary>
    public static string Shown(string url)
    {
        var scheme = url.IndexOf("://", StringComparison.Ordinal);
        if (scheme < 0) return url;
        var hostEnd = url.IndexOfAny(['/', '?', '#'], scheme + 3);
        var authority = hostEnd < 0 ? url[(scheme + 3)..] : url[(scheme + 3)..hostEnd];
        var at = authority.LastIndexOf('@');
        return at < 0 ? url : url[..(scheme + 3)] + "***@" + authority[(at + 1)..] + (hostEnd < 0 ? "" : url[hostEnd..]);
    }
}
