using AwesomeAssertions;
using Deploy.Transport.Persist;
using Xunit;

namespace Deploy.Transport.Tests;

/// <summary>
/// NF_DEPLOY_SSH_PERSIST also keeps the passphrase's derived key: the broker gives a key back only under the id it was
/// kept under and forgets it when it ends; neither a lookup nor keeping a key starts a broker.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class PersistKeyCacheTests(SshFixture lab) : IClassFixture<SshFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly byte[] Key = [.. Enumerable.Range(1, 32).Select(i => (byte)i)];

    private (PersistBroker Broker, Task<bool> Serving, string Socket, CancellationTokenSource Stop) StartBroker(string dir, TimeSpan idle)
    {
        PersistSocket.EnsurePrivateDirectory(dir).Should().BeNull();
        var socket = Path.Combine(dir, "ssh.sock");
        var broker = new PersistBroker(_ => throw new InvalidOperationException("no host is connected to here"), socket, idle);
        var stop = new CancellationTokenSource();
        return (broker, Task.Run(() => broker.RunAsync(stop.Token)), socket, stop);
    }

    private string NewDir() => Path.Combine(lab.Dir, "keys-" + Guid.NewGuid().ToString("N")[..8]);

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++) await Task.Delay(25, Ct);
        condition().Should().BeTrue();
    }

    [Fact]
    public async Task A_key_kept_by_the_broker_is_given_back_under_its_id_only_and_is_gone_with_the_broker()
    {
        var dir = NewDir();
        var (_, serving, socket, stop) = StartBroker(dir, TimeSpan.FromSeconds(2));
        await WaitForAsync(() => File.Exists(socket));
        var run = new PersistKeyCache(socket);
        await run.PutAsync("stack-a", Key, Ct);
        await run.Kept;

        var next = new PersistKeyCache(socket);
        (await next.GetAsync("stack-a", Ct)).Should().Equal(Key, "a later run gets the key back");
        (await next.GetAsync("stack-b", Ct)).Should().BeNull("nothing was kept under another id (another passphrase or salt)");

        (await serving.WaitAsync(TimeSpan.FromSeconds(60), Ct)).Should().BeTrue("the broker ended by itself once idle");
        stop.Dispose();
        var (_, again, socket2, stop2) = StartBroker(dir, TimeSpan.FromMinutes(5));
        await WaitForAsync(() => File.Exists(socket2));
        (await new PersistKeyCache(socket2).GetAsync("stack-a", Ct)).Should().BeNull("the key lived in the idle broker's memory only");
        await stop2.CancelAsync();
        await again;
        stop2.Dispose();
    }

    [Fact]
    public async Task Neither_a_lookup_nor_keeping_a_key_starts_a_broker_and_the_key_is_kept_once_the_runs_connects_start_one()
    {
        var dir = NewDir();
        PersistSocket.EnsurePrivateDirectory(dir).Should().BeNull();
        var socket = Path.Combine(dir, "ssh.sock");
        var cache = new PersistKeyCache(socket);

        (await cache.GetAsync("stack-a", Ct)).Should().BeNull("no broker runs: a miss");
        var put = cache.PutAsync("stack-a", Key, Ct);
        put.IsCompleted.Should().BeTrue("the run does not wait for a broker");
        await Task.Delay(300, Ct);
        File.Exists(socket).Should().BeFalse("no broker was started for the key");

        using var stop = new CancellationTokenSource(); // the broker the run's first connect starts
        var broker = new PersistBroker(_ => throw new InvalidOperationException("no host"), socket, TimeSpan.FromMinutes(5));
        var serving = Task.Run(() => broker.RunAsync(stop.Token), Ct);
        await cache.Kept.WaitAsync(PersistKeyCache.Patience, Ct);
        (await cache.GetAsync("stack-a", Ct)).Should().Equal(Key);

        await stop.CancelAsync();
        (await serving).Should().BeTrue();
    }

    [Fact]
    public void The_broker_keeps_at_most_its_capacity_of_keys_forgetting_the_least_recently_used()
    {
        var keys = new PersistKeys();
        for (var i = 0; i < PersistKeys.Capacity; i++) keys.Put($"k{i}", Convert.ToBase64String(Key));
        keys.Get("k0").Should().NotBeNull(); // k0 used last: k1 is now the least recently used
        keys.Put("new", Convert.ToBase64String(Key));

        keys.Get("k1").Should().BeNull();
        keys.Get("k0").Should().NotBeNull();
        keys.Get("new").Should().Be(Convert.ToBase64String(Key));
        keys.Put("bad", "not base64!");
        keys.Get("bad").Should().BeNull("what is not a key is not kept");
    }

    [Fact]
    public async Task A_connect_request_reaches_the_broker_whole_jump_host_key_passphrase_and_timeouts_included()
    {
        var endpoint = new Deploy.Core.Transport.SshEndpoint("192.0.2.21", 2222, "deploy", "/keys/id")
        {
            Name = "sip-a",
            Passphrase = new Deploy.Core.Transport.SshKeyPassphrase("SIP_KEY_PASS", null),
            UseAgent = false,
            ConnectTimeout = TimeSpan.FromSeconds(7),
            ConnectAttempts = 3,
        };
        var jump = new Deploy.Core.Transport.SshEndpoint("198.51.100.10", 22, "jump", null) { Name = "b1" };
        var sent = new PersistRequest(4, "connect", new Deploy.Core.Transport.HostConnection("sip-a", endpoint, jump), "/kh", KeyId: "id", Key: "a2V5");
        using var wire = new MemoryStream();

        await PersistFrames.WriteAsync(wire, sent, new SemaphoreSlim(1, 1), Ct);
        wire.Position = 0;
        var received = await PersistFrames.ReadAsync<PersistRequest>(wire, Ct);

        received.Should().Be(sent);
    }
}
