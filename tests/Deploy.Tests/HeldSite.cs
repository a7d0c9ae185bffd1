using System.Net;
using System.Net.Sockets;

namespace Deploy.Tests;

/// <summary>
/// A one-host site (stack <see cref="Stack"/>, unique per spec: specs share one database) whose host is a port on
/// 127.0.0.1 that accepts TCP and never speaks SSH while <see cref="Silent"/>: an <c>up</c> then holds the stack's
/// lock for as long as it tries to connect (tens of seconds). <see cref="Refuse"/> closes the port: runs then fail fast.
/// </summary>
public sealed class HeldSite : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<Socket> _accepted = [];
    private readonly CancellationTokenSource _stop = new();

    public HeldSite()
    {
        Stack = "t" + Guid.NewGuid().ToString("N")[..10];
        _listener.Start();
        var port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _ = Task.Run(async () =>
        {
            try { while (true) { var s = await _listener.AcceptSocketAsync(_stop.Token); lock (_accepted) _accepted.Add(s); } }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { }
        });
        Site.Write("Pulumi.yaml", File.ReadAllText(Path.Combine(SiteFixture.RepoRoot, "Pulumi.yaml")))
            .Write($"stacks/Pulumi.{Stack}.yaml", "config:\n  nf-deploy:inventory: held\n  nf-deploy:sipDomain: sip.held.test\n  nf-deploy:realm: epc.held.test\n")
            .Write("inventory/held.yaml", $"ssh: {{ user: root, key: key, port: {port} }}\nhosts:\n  h1: {{ address: 127.0.0.1 }}\ngroups:\n  g: {{ hosts: [h1], roles: [marker] }}\n")
            .Write("roles/marker.yaml", "description: one directory\nnfs: [marker]\n")
            .Write("nf/marker/nf.yaml", "description: one directory\ndirectories:\n  - { path: /tmp/nfd-held-marker }\n")
            .Write("key.pub", "");
        File.Delete(Path.Combine(Site.Dir, "key.pub"));
        using var keygen = System.Diagnostics.Process.Start("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "held-site", "-f", Path.Combine(Site.Dir, "key")]);
        keygen.WaitForExit();
        if (keygen.ExitCode != 0) throw new InvalidOperationException("ssh-keygen failed");
    }

    public SiteFixture Site { get; } = new();

    public string Stack { get; }

    public string Dir => Site.Dir;

    public void Refuse()
    {
        _stop.Cancel();
        _listener.Stop();
        lock (_accepted) foreach (var s in _accepted) s.Dispose();
    }

    public void Dispose()
    {
        Refuse();
        Site.Dispose();
    }
}
