using Xunit;
using Deploy.Core.Transport;

namespace Deploy.Transport.Tests;

/// <summary>
/// Shared by the SSH tests: a temp directory, client keys (ed25519 and RSA, both authorized) and one running sshd
/// on 127.0.0.1. Tests that restart or tunnel start their own servers.
/// </summary>
public sealed class SshFixture : IAsyncLifetime
{
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "nf-deploy-transport-tests-" + Guid.NewGuid().ToString("N")[..12]);
    public string Ed25519Key => Path.Combine(Dir, "id_ed25519");
    public string RsaKey => Path.Combine(Dir, "id_rsa");
    public string UnauthorizedKey => Path.Combine(Dir, "id_stranger");
    public string AuthorizedKeys => Path.Combine(Dir, "authorized_keys");
    internal Sshd Server { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        Directory.CreateDirectory(Dir);
        await Tool.KeygenAsync(Ed25519Key, "ed25519", ct);
        await Tool.KeygenAsync(RsaKey, "rsa", ct);
        await Tool.KeygenAsync(UnauthorizedKey, "ed25519", ct);
        await File.WriteAllTextAsync(AuthorizedKeys,
            await File.ReadAllTextAsync(Ed25519Key + ".pub", ct) + await File.ReadAllTextAsync(RsaKey + ".pub", ct), ct);
        Server = await StartServerAsync("main", ct);
    }

    internal Task<Sshd> StartServerAsync(string name, CancellationToken ct, string logLevel = "INFO", bool allowTcpForwarding = false,
        string hostKeyType = "ed25519") =>
        Sshd.StartAsync(Dir, name + "-" + Guid.NewGuid().ToString("N")[..6], AuthorizedKeys, ct, hostKeyType, logLevel, allowTcpForwarding);

    /// <summary>A fresh known_hosts path (the file does not exist yet).</summary>
    public string NewKnownHostsPath() => Path.Combine(Dir, "kh-" + Guid.NewGuid().ToString("N")[..8], "known_hosts");

    internal SshEndpoint Endpoint(Sshd server, string? key = null, string user = "root") =>
        new("127.0.0.1", server.Port, user, key ?? Ed25519Key);

    public async ValueTask DisposeAsync()
    {
        if (Server is not null)
            await Server.DisposeAsync();
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
