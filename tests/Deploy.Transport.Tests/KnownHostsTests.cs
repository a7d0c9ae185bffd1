using Xunit;
using AwesomeAssertions;
using Deploy.Core.Transport;

namespace Deploy.Transport.Tests;

public sealed class KnownHostsTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "nf-deploy-kh-" + Guid.NewGuid().ToString("N")[..10]);
    private string FilePath => Path.Combine(_dir, ".nf-deploy", "known_hosts");

    // Two well-formed ed25519 public key blobs (the key type string, then 32 bytes).
    private static string Key(byte fill) =>
        Convert.ToBase64String([0, 0, 0, 11, .. "ssh-ed25519"u8.ToArray(), 0, 0, 0, 32, .. Enumerable.Repeat(fill, 32)]);

    public void Dispose()
    {
        if (Directory.Exists(_dir))
            Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void Hosts_are_named_as_openssh_names_them()
    {
        KnownHosts.HostPattern("10.0.0.5", 22).Should().Be("10.0.0.5");
        KnownHosts.HostPattern("10.0.0.5", 2222).Should().Be("[10.0.0.5]:2222");
        KnownHosts.HostPattern("Bastion.Example", 22).Should().Be("bastion.example");
    }

    [Fact]
    public async Task The_first_key_of_a_host_is_recorded_and_later_ones_are_compared_with_it()
    {
        var kh = new KnownHosts(FilePath);

        (await kh.PinAsync("10.0.0.5", 22, new PinnedHostKey("ssh-ed25519", Key(1)), Ct)).Should().BeEmpty();
        (await kh.PinAsync("10.0.0.5", 22, new PinnedHostKey("ssh-ed25519", Key(2)), Ct)).Should().Equal(new PinnedHostKey("ssh-ed25519", Key(1)));

        (await File.ReadAllLinesAsync(FilePath, Ct)).Should().Equal($"10.0.0.5 ssh-ed25519 {Key(1)}");
        (await kh.LookupAsync("10.0.0.5", 22, Ct)).Should().ContainSingle();
        (await kh.LookupAsync("10.0.0.5", 2222, Ct)).Should().BeEmpty();
    }

    [Fact]
    public async Task Many_hosts_pinned_in_parallel_all_land_in_the_file()
    {
        var kh = new KnownHosts(FilePath);

        await Task.WhenAll(Enumerable.Range(0, 64).Select(i =>
            Task.Run(() => kh.PinAsync("192.0.2.1", 2000 + i, new PinnedHostKey("ssh-ed25519", Key((byte)i)), Ct), Ct)));

        var lines = await File.ReadAllLinesAsync(FilePath, Ct);
        lines.Should().HaveCount(64);
        lines.Should().BeEquivalentTo(Enumerable.Range(0, 64).Select(i => $"[192.0.2.1]:{2000 + i} ssh-ed25519 {Key((byte)i)}"));
        Directory.GetFiles(Path.GetDirectoryName(FilePath)!).Should().Equal([FilePath], "no temp file is left behind");
    }

    [Fact]
    public async Task Forgetting_a_host_removes_only_its_own_entries()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
        await File.WriteAllLinesAsync(FilePath, [
            "# lab hosts",
            $"[10.0.0.5]:2222 ssh-ed25519 {Key(1)}",
            $"10.0.0.5 ssh-ed25519 {Key(2)}",
            $"[10.0.0.5]:2222,[10.0.0.6]:2222 ssh-rsa {Key(3)}",
            $"@cert-authority *.example ssh-ed25519 {Key(4)}",
        ], Ct);
        var kh = new KnownHosts(FilePath);

        kh.Forget("10.0.0.5", 2222);

        (await File.ReadAllLinesAsync(FilePath, Ct)).Should().Equal(
            "# lab hosts",
            $"10.0.0.5 ssh-ed25519 {Key(2)}",
            $"[10.0.0.6]:2222 ssh-rsa {Key(3)}",
            $"@cert-authority *.example ssh-ed25519 {Key(4)}");
        (await kh.ForgetAsync("10.0.0.5", 2222, Ct)).Should().BeFalse();
        kh.Forget("203.0.113.9", 22); // unknown host: nothing happens
        ((IHostKeyStore)kh).Forget("10.0.0.5", 22);
        (await kh.LookupAsync("10.0.0.5", 22, Ct)).Should().BeEmpty();
    }

    [Fact]
    public void Forgetting_with_no_file_is_harmless()
    {
        new KnownHosts(FilePath).Forget("10.0.0.5", 22);

        File.Exists(FilePath).Should().BeFalse();
    }

    [Fact]
    public async Task Hashed_and_wildcard_entries_written_by_openssh_are_understood()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
        await File.WriteAllLinesAsync(FilePath, [
            $"[10.0.0.7]:2222 ssh-ed25519 {Key(7)}",
            $"10.1.*,!10.1.0.9 ssh-ed25519 {Key(8)}",
        ], Ct);
        await Tool.RunAsync("ssh-keygen", ["-q", "-H", "-f", FilePath], Ct); // hashes the host names in place
        File.Delete(FilePath + ".old");
        (await File.ReadAllTextAsync(FilePath, Ct)).Should().StartWith("|1|");
        var kh = new KnownHosts(FilePath);

        (await kh.LookupAsync("10.0.0.7", 2222, Ct)).Should().Equal(new PinnedHostKey("ssh-ed25519", Key(7)));
        (await kh.LookupAsync("10.1.2.3", 22, Ct)).Should().Equal(new PinnedHostKey("ssh-ed25519", Key(8)));
        (await kh.LookupAsync("10.1.0.9", 22, Ct)).Should().BeEmpty();

        (await kh.ForgetAsync("10.0.0.7", 2222, Ct)).Should().BeTrue();
        (await kh.LookupAsync("10.0.0.7", 2222, Ct)).Should().BeEmpty();
    }

    [Fact]
    public void Fingerprints_look_like_ssh_keygen_ones()
    {
        var fp = new PinnedHostKey("ssh-ed25519", Key(1)).Fingerprint;

        fp.Should().StartWith("SHA256:").And.NotEndWith("=");
        fp.Length.Should().Be("SHA256:".Length + 43);
    }
}
