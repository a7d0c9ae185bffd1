using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Site.Compile;

namespace Deploy.Tests;

/// <summary>A throwaway project folder: the repo's real site files, or a minimal site, with files overridden per test.</summary>
public sealed class SiteFixture : IDisposable
{
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "nfd-site-" + Guid.NewGuid().ToString("N")[..8]);

    public static string RepoRoot
    {
        get
        {
            for (var d = AppContext.BaseDirectory; d is not null; d = Path.GetDirectoryName(d))
                if (File.Exists(Path.Combine(d, "Pulumi.yaml")) && Directory.Exists(Path.Combine(d, "nf"))) return d;
            throw new InvalidOperationException("repo root not found");
        }
    }

    /// <summary>A copy of the repository's own site (Pulumi.yaml, stacks, inventory, roles, nf, templates).</summary>
    public static SiteFixture FromRepo()
    {
        var f = new SiteFixture();
        foreach (var sub in new[] { "stacks", "inventory", "roles", "nf", "templates" })
            CopyDir(Path.Combine(RepoRoot, sub), Path.Combine(f.Dir, sub));
        File.Copy(Path.Combine(RepoRoot, "Pulumi.yaml"), Path.Combine(f.Dir, "Pulumi.yaml"));
        return f;
    }

    public SiteFixture Write(string relPath, string content)
    {
        var p = Path.Combine(Dir, relPath);
        Directory.CreateDirectory(Path.GetDirectoryName(p)!);
        File.WriteAllText(p, content.Replace("\r", ""));
        return this;
    }

    public string Read(string relPath) => File.ReadAllText(Path.Combine(Dir, relPath));

    /// <summary>Replaces text in a file; the text must be there (a test must not pass because its edit missed).</summary>
    public SiteFixture Edit(string relPath, string from, string to)
    {
        var text = Read(relPath);
        if (!text.Contains(from, StringComparison.Ordinal)) throw new InvalidOperationException($"'{from}' is not in {relPath}");
        return Write(relPath, text.Replace(from, to, StringComparison.Ordinal));
    }

    public SiteFixture Edit(string relPath, System.Text.RegularExpressions.Regex from, string to)
    {
        var text = Read(relPath);
        if (!from.IsMatch(text)) throw new InvalidOperationException($"/{from}/ matches nothing in {relPath}");
        return Write(relPath, from.Replace(text, to, 1));
    }

    public SiteFixture Append(string relPath, string text) => Write(relPath, Read(relPath) + text);

    /// <summary>The passphrase of the repository's lab stack secrets (lab only: scripts/lab-up uses it too).</summary>
    public const string LabPassphrase = "nf-deploy-lab";

    /// <summary>Where the passphrase comes from: the lab's by default; secret specs read the environment, as the CLI does.</summary>
    public Func<string?> Passphrase { get; set; } = () => LabPassphrase;

    public Task<SiteProgram> LoadAsync(string stack = "lab") =>
        SiteLoader.LoadAsync(Dir, stack, new FakeKeys(), (_, _) => Task.FromResult("ssh-ed25519 AAAATEST lab"), CancellationToken.None, Passphrase);

    /// <summary>Loads and renders with the facts lab hosts are assumed to have (or the given ones).</summary>
    public async Task<ImmutableDictionary<string, Deploy.Core.Engine.HostDesired>> RenderAsync(string stack = "lab", IReadOnlyDictionary<string, HostFacts>? facts = null)
    {
        var site = await LoadAsync(stack);
        var f = facts ?? site.Hosts.ToDictionary(h => h.Name, h => h.FactsOrAssumed());
        return site.Materialize(f, CancellationToken.None).ToImmutableDictionary(d => d.Host);
    }

    private static void CopyDir(string from, string to)
    {
        Directory.CreateDirectory(to);
        // a link stays a link: the compiler must see the repository as `./deploy` does (it refuses a link out of an NF)
        foreach (var f in Directory.GetFiles(from))
        {
            if (new FileInfo(f).LinkTarget is { } target) File.CreateSymbolicLink(Path.Combine(to, Path.GetFileName(f)), target);
            else File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        }
        foreach (var d in Directory.GetDirectories(from)) CopyDir(d, Path.Combine(to, Path.GetFileName(d)));
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }

    internal sealed class FakeKeys : IKeyFetcher
    {
        public Task<string> FetchAsync(string url, Action<string> verify, CancellationToken ct) =>
            Task.FromResult($"-----BEGIN PGP PUBLIC KEY BLOCK-----\nfake key of {url}\n-----END PGP PUBLIC KEY BLOCK-----\n");
    }
}
