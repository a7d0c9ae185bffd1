using System.Text.RegularExpressions;
using AwesomeAssertions;

namespace Deploy.Tests;

/// <summary>
/// SSH as operators use it, through ./deploy itself: hosts behind a bastion that is down are reported with one root
/// cause, once, not once per host per retry; with -v every attempt says what it waits for.
/// </summary>
public sealed class SshCliSpecs
{
    /// <summary>Three hosts behind bastion b1 on 127.0.0.1 port 1, where nothing listens; two attempts per connection.</summary>
    private static async Task<SiteFixture> BehindADownBastionAsync()
    {
        var site = SiteFixture.FromRepo();
        site.Write("roles/bare.yaml", "description: no network function\nnfs: []\n")
            .Write("inventory/trio.yaml",
                "ssh: { user: root, key: keys/id, jump: b1, connect_attempts: 2, connect_timeout: 5 }\nhosts:\n" +
                "  b1: { address: 127.0.0.1, ssh: { port: 1 } }\n" +
                "  h1: { address: 127.0.0.2, roles: [bare] }\n  h2: { address: 127.0.0.3, roles: [bare] }\n" +
                "  h3: { address: 127.0.0.4, roles: [bare] }\n")
            .Write("stacks/Pulumi.trio.yaml", "config:\n  nf-deploy:inventory: trio\n  nf-deploy:sipDomain: sip.trio.test\n" +
                "  nf-deploy:realm: epc.trio.test\n");
        Directory.CreateDirectory(Path.Combine(site.Dir, "keys"));
        using var keygen = System.Diagnostics.Process.Start("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", Path.Combine(site.Dir, "keys/id")])!;
        await keygen.WaitForExitAsync(TestContext.Current.CancellationToken);
        return site;
    }

    [Fact]
    public async Task A_bastion_that_is_down_is_reported_once_with_its_cause_and_the_hosts_it_hides()
    {
        using var site = await BehindADownBastionAsync();

        var (exit, _, stderr) = await DeployProcess.RunAsync(site.Dir, null, "preview", "--stack", "trio", "-v");

        exit.Should().Be(1);
        Regex.Matches(stderr, "bastion b1 unreachable: 3 hosts not read").Count.Should().Be(1, stderr);
        stderr.Should().MatchRegex(@"(?m)^b1: error: bastion b1 unreachable: 3 hosts not read \(h1, h2, h3\): jump host 127\.0\.0\.1:1: " +
            @"connection refused \(gave up after 2 attempts\)$");
        Regex.Matches(stderr, @"(?m)^b1: connecting to jump host 127\.0\.0\.1:1: attempt \d of 2").Count
            .Should().Be(2, "the bastion is tried twice in all (its attempts), not twice per host behind it: " + stderr);
        stderr.Should().Contain("waiting up to 5 s for its SSH answer");
    }
}
