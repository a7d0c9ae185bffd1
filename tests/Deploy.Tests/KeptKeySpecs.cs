using System.Collections.Concurrent;
using AwesomeAssertions;
using Deploy.Core.Model;
using Deploy.Core.Secrets;
using Deploy.Site.Compile;
using Deploy.Site.Secrets;
using Deploy.Transport.Persist;

namespace Deploy.Tests;

/// <summary>
/// With NF_DEPLOY_SSH_PERSIST the user's SSH broker also keeps the passphrase's derived key, so a repeat run skips
/// Pulumi's million PBKDF2 rounds. What a kept key opens must be what the passphrase opens, a wrong passphrase is still
/// refused, and a broker that fails or holds a wrong key costs a derivation, never the run.
/// </summary>
public sealed class KeptKeySpecs
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed class Counting : IDerivedKeyCache
    {
        public ConcurrentDictionary<string, byte[]> Keys { get; } = new();
        public int Hits;
        public int Puts;

        public Task<byte[]?> GetAsync(string id, CancellationToken ct)
        {
            var key = Keys.GetValueOrDefault(id);
            if (key is not null) Interlocked.Increment(ref Hits);
            return Task.FromResult(key);
        }

        public Task PutAsync(string id, byte[] key, CancellationToken ct)
        {
            Interlocked.Increment(ref Puts);
            Keys[id] = key;
            return Task.CompletedTask;
        }
    }

    /// <summary>Counts the keys another cache gave back.</summary>
    private sealed class Hits(IDerivedKeyCache inner) : IDerivedKeyCache
    {
        public int Count;

        public async Task<byte[]?> GetAsync(string id, CancellationToken ct)
        {
            var key = await inner.GetAsync(id, ct);
            if (key is not null) Interlocked.Increment(ref Count);
            return key;
        }

        public Task PutAsync(string id, byte[] key, CancellationToken ct) => inner.PutAsync(id, key, ct);
    }

    private sealed class Broken : IDerivedKeyCache
    {
        public Task<byte[]?> GetAsync(string id, CancellationToken ct) => throw new IOException("the SSH broker hung up");

        public Task PutAsync(string id, byte[] key, CancellationToken ct) => throw new IOException("the SSH broker hung up");
    }

    private static readonly (PassphraseCrypter Crypter, string Salt) Stack = PassphraseCrypter.Create("right horse battery");

    [Fact]
    public async Task A_repeat_run_takes_the_key_kept_by_the_broker_and_opens_what_the_passphrase_opens()
    {
        var sealedValue = Stack.Crypter.Encrypt("s3cr3t-Tr0mb0ne!");
        var cache = new Counting();

        var first = await PassphraseCrypter.OpenAsync("right horse battery", Stack.Salt, "lab", cache, Ct);
        (cache.Hits, cache.Puts).Should().Be((0, 1), "the first run derives the key and gives it to the broker");
        var second = await PassphraseCrypter.OpenAsync("right horse battery", Stack.Salt, "lab", cache, Ct);

        (cache.Hits, cache.Puts).Should().Be((1, 1), "the repeat run took the kept key");
        second.Decrypt(sealedValue, "lab").Should().Be("s3cr3t-Tr0mb0ne!");
        second.StateHashKey.Should().Be(first.StateHashKey).And.Be(Stack.Crypter.StateHashKey);
    }

    [Fact]
    public async Task A_wrong_passphrase_is_refused_though_the_broker_holds_the_stacks_key()
    {
        var cache = new Counting();
        await PassphraseCrypter.OpenAsync("right horse battery", Stack.Salt, "lab", cache, Ct);

        var wrong = () => PassphraseCrypter.OpenAsync("wrong horse battery", Stack.Salt, "lab", cache, Ct);

        (await wrong.Should().ThrowAsync<DeployException>()).Which.Message.Should()
            .Be("stack lab: incorrect passphrase (PULUMI_CONFIG_PASSPHRASE does not open this stack's secrets)");
        (cache.Hits, cache.Puts).Should().Be((0, 1), "the wrong passphrase's id finds nothing and its key is not kept");
        cache.Keys.Keys.Should().Equal([PassphraseCrypter.CacheId("right horse battery", SaltOf(Stack.Salt))]);
    }

    [Fact]
    public void The_same_passphrase_on_two_stacks_is_kept_under_two_ids()
    {
        var other = PassphraseCrypter.Create("right horse battery").EncryptionSalt;

        PassphraseCrypter.CacheId("right horse battery", SaltOf(other)).Should()
            .NotBe(PassphraseCrypter.CacheId("right horse battery", SaltOf(Stack.Salt)))
            .And.NotContain("horse");
    }

    [Fact]
    public async Task A_kept_key_that_does_not_open_the_stack_is_not_used_and_is_replaced()
    {
        var cache = new Counting();
        var id = PassphraseCrypter.CacheId("right horse battery", SaltOf(Stack.Salt));
        cache.Keys[id] = new byte[32];

        var opened = await PassphraseCrypter.OpenAsync("right horse battery", Stack.Salt, "lab", cache, Ct);

        opened.StateHashKey.Should().Be(Stack.Crypter.StateHashKey);
        cache.Keys[id].Should().NotEqual(new byte[32], "the derived key took the wrong one's place");
    }

    [Fact]
    public async Task A_broker_that_fails_costs_a_derivation_not_the_run()
    {
        var opened = await PassphraseCrypter.OpenAsync("right horse battery", Stack.Salt, "lab", new Broken(), Ct);

        opened.StateHashKey.Should().Be(Stack.Crypter.StateHashKey);
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task The_lab_site_loaded_with_the_key_from_a_real_broker_renders_what_it_renders_with_the_passphrase_alone()
    {
        using var site = SiteFixture.FromRepo();
        var dir = Path.Combine(Path.GetTempPath(), "nfd-keys-" + Guid.NewGuid().ToString("N")[..8]);
        PersistSocket.EnsurePrivateDirectory(dir).Should().BeNull();
        var socket = Path.Combine(dir, "ssh.sock");
        using var stop = new CancellationTokenSource();
        var broker = new PersistBroker(_ => throw new InvalidOperationException("no host is connected to here"), socket, TimeSpan.FromMinutes(5));
        var serving = Task.Run(() => broker.RunAsync(stop.Token), Ct);
        try
        {
            var cache = new PersistKeyCache(socket);
            var plain = await site.LoadAsync();
            plain.Config.HasSecrets.Should().BeFalse("the lab stack's secrets are decrypted");
            var hits = new Hits(cache);
            var first = await LoadAsync(site, hits);
            await cache.Kept; // handed to the broker in the background
            var kept = await LoadAsync(site, hits);

            hits.Count.Should().Be(1, "the first load derived the key, the second took it from the broker");
            kept.Config.Values.Should().BeEquivalentTo(plain.Config.Values);
            kept.Config.SecretValues.Should().Equal(plain.Config.SecretValues).And.HaveCount(2);
            (kept.Config.StateHashKey, first.Config.StateHashKey).Should().Be((plain.Config.StateHashKey, plain.Config.StateHashKey));
            var salt = SaltOf(plain.Config.EncryptionSalt!);
            (await cache.GetAsync(PassphraseCrypter.CacheId(SiteFixture.LabPassphrase, salt), Ct)).Should().HaveCount(32, "the broker keeps the lab stack's key");
        }
        finally
        {
            await stop.CancelAsync();
            await serving;
            Directory.Delete(dir, recursive: true);
        }
    }

    private static Task<Deploy.Site.Compile.SiteProgram> LoadAsync(SiteFixture site, IDerivedKeyCache cache) =>
        SiteLoader.LoadAsync(site.Dir, "lab", new SiteFixture.FakeKeys(), (_, _) => Task.FromResult("ssh-ed25519 AAAATEST lab"), Ct, site.Passphrase, keyCache: cache);

    private static byte[] SaltOf(string encryptionSalt) => Convert.FromBase64String(encryptionSalt.Split(':')[1]);
}
