using System.Net;
using System.Net.Sockets;

namespace Deploy.Tests;

/// <summary>
/// A two-host site (stack <c>p1</c>) whose hosts are on 127.0.0.1 and 127.0.0.2 at a loopback port where nothing
/// listens: every run reads nothing and changes nothing, but each host goes through its connect phase (with retries,
/// a few seconds) and fails, which is all a progress display needs to show. No other machine is ever contacted.
/// </summary>
public sealed class ProgressSite : IDisposable
{
    public const string Stack = "p1";

    public ProgressSite()
    {
        var free = new TcpListener(IPAddress.Loopback, 0);
        free.Start();
        var port = ((IPEndPoint)free.LocalEndpoint).Port;
        free.Stop();
        Site.Write("Pulumi.yaml", File.ReadAllText(Path.Combine(SiteFixture.RepoRoot, "Pulumi.yaml")))
            .Write($"stacks/Pulumi.{Stack}.yaml", "config:\n  nf-deploy:inventory: progress\n")
            .Write("inventory/progress.yaml", $"ssh: {{ user: root, key: key, port: {port} }}\nhosts:\n" +
                "  h1: { address: 127.0.0.1 }\n  h2: { address: 127.0.0.2 }\ngroups:\n  g: { hosts: [h1, h2], roles: [marker] }\n")
            .Write("roles/marker.yaml", "description: one directory\nnfs: [marker]\n")
            .Write("nf/marker/nf.yaml", "description: one directory\ndirectories:\n  - { path: /tmp/nfd-progress-marker }\n");
        using var keygen = System.Diagnostics.Process.Start("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "progress-site", "-f", Path.Combine(Site.Dir, "key")]);
        keygen.WaitForExit();
        if (keygen.ExitCode != 0) throw new InvalidOperationException("ssh-keygen failed");
    }

    public SiteFixture Site { get; } = new();

    public string Dir => Site.Dir;

    public void Dispose() => Site.Dispose();
}
