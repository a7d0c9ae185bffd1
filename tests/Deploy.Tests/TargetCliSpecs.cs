using System.Text.Json;
using AwesomeAssertions;

namespace Deploy.Tests;

/// <summary>
/// <c>--target</c>/<c>--limit</c> (preview, up, refresh, health) and <c>restart</c> through ./deploy itself: an unknown target or service is a usage error
/// (exit 2) naming the closest name, <c>--limit</c> is <c>--target</c>, an untargeted host is not contacted, and restart
/// without <c>--yes</c> and without a terminal stops before anything is read or contacted.
/// </summary>
public sealed class TargetCliSpecs
{
    /// <summary>The lab site as scripts/lab-up leaves it: the lab mirror's key copied in.</summary>
    private static SiteFixture Lab() => SiteFixture.FromRepo().Write(".nf-deploy/lab/mirror-key.asc", TestKeys.Armored + "\n");

    private static Task<(int Exit, string Stdout, string Stderr)> Deploy(SiteFixture site, params string[] args) =>
        DeployProcess.RunAsync(site.Dir, null, args);

    /// <summary>A site of two hosts that run nothing, on 127.0.0.1 port 1 where nothing listens: contacting one fails.</summary>
    private static async Task<SiteFixture> DuoAsync()
    {
        var site = SiteFixture.FromRepo();
        site.Write("roles/bare.yaml", "description: no network function\nnfs: []\n")
            .Write("inventory/duo.yaml", "ssh: { user: root, key: keys/id, port: 1 }\nhosts:\n" +
                "  duo-1: { address: 127.0.0.1, roles: [bare] }\n  duo-2: { address: 127.0.0.2, roles: [bare] }\n")
            .Write("stacks/Pulumi.duo.yaml", "config:\n  nf-deploy:inventory: duo\n");
        Directory.CreateDirectory(Path.Combine(site.Dir, "keys"));
        var key = Path.Combine(site.Dir, "keys/id");
        using var keygen = System.Diagnostics.Process.Start("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key])!;
        await keygen.WaitForExitAsync(TestContext.Current.CancellationToken);
        return site;
    }

    [Fact]
    public async Task An_unknown_target_exits_2_naming_the_closest_host_for_preview_up_refresh_and_health()
    {
        using var site = Lab();

        var preview = await Deploy(site, "preview", "--stack", "lab", "--target", "kamailo-1");
        var up = await Deploy(site, "up", "--stack", "lab", "--yes", "--limit", "kamailio-1", "--limit", "pcfr");
        var refresh = await Deploy(site, "refresh", "--stack", "lab", "--target", "kamailio-9");
        var health = await Deploy(site, "health", "--stack", "lab", "--target", "kamailio-9");

        preview.Should().Be((2, "",
            "error: --target kamailo-1: no host, group or role of stack lab is called so (did you mean kamailio-1?) " +
            "(a resource is named by its URN, as preview --json prints it)\n"));
        (up.Exit, up.Stdout).Should().Be((2, ""));
        up.Stderr.Should().StartWith("error: --target pcfr: ").And.Contain("(did you mean pcrf?)");
        (refresh.Exit, refresh.Stdout).Should().Be((2, ""));
        refresh.Stderr.Should().Contain("(did you mean kamailio-1?)");
        (health.Exit, health.Stdout).Should().Be((2, ""));
        health.Stderr.Should().StartWith("error: --target kamailio-9: ").And.Contain("(did you mean kamailio-1?)");
        Directory.Exists(Path.Combine(site.Dir, ".pulumi")).Should().BeFalse("no lock, state or history was written");
    }

    [Fact]
    public async Task Limit_is_target_and_a_host_left_out_is_not_contacted()
    {
        using var site = await DuoAsync();

        var whole = await Deploy(site, "preview", "--stack", "duo", "--json");
        var limited = await Deploy(site, "preview", "--stack", "duo", "--json", "--limit", "duo-2");

        Problems(whole.Stdout).Should().Equal("duo-1", "duo-2");
        limited.Exit.Should().Be(1);
        Problems(limited.Stdout).Should().Equal(["duo-2"], "duo-1 was not contacted, so it cannot have failed");
        limited.Stderr.Should().Contain("targeted run: duo-2 (1 other host not contacted)").And.NotContain("duo-1");
    }

    [Fact]
    public async Task Restart_without_yes_and_without_a_terminal_stops_before_reading_the_site_or_contacting_a_host()
    {
        using var site = SiteFixture.FromRepo();

        var plain = await Deploy(site, "restart", "--stack", "lab", "--target", "kamailio-1");
        var nonInteractive = await Deploy(site, "restart", "--stack", "lab", "--target", "kamailio", "--non-interactive");
        var untargeted = await Deploy(site, "restart", "--stack", "lab", "--yes");
        var json = await Deploy(site, "restart", "--stack", "lab", "--target", "kamailio-1", "--json");

        foreach (var (exit, stdout, stderr) in new[] { plain, nonInteractive })
            (exit, stdout, stderr).Should().Be((2, "",
                "error: restart needs --yes when not run from a terminal (or with --non-interactive): nothing was read or restarted\n"));
        untargeted.Should().Be((2, "",
            "error: restart needs --target (a host, a group or role, or a service's URN): it names what to restart\n"));
        json.Should().Be((2, "", "error: restart --json needs --yes (the plan is not shown before the JSON, so there is nothing to confirm)\n"));
        Directory.Exists(Path.Combine(site.Dir, ".nf-deploy")).Should().BeFalse("no lab key was made and no host known");
        Directory.Exists(Path.Combine(site.Dir, ".pulumi")).Should().BeFalse("no lock was taken");
    }

    [Fact]
    public async Task Restart_of_an_unknown_service_exits_2_naming_the_closest_before_any_host_is_contacted()
    {
        using var site = Lab();

        var (exit, stdout, stderr) =
            await Deploy(site, "restart", "--stack", "lab", "--target", "kamailio-1", "--service", "kamailo", "--yes");

        (exit, stdout).Should().Be((2, ""));
        stderr.Should().EndWith("error: --service kamailo: no service of that name on kamailio-1 (did you mean kamailio?)\n");
        Directory.Exists(Path.Combine(site.Dir, ".pulumi")).Should().BeFalse("refused before the lock, the state and the history");
        File.Exists(Path.Combine(site.Dir, ".nf-deploy/known_hosts")).Should().BeFalse("no host was contacted");
    }

    private static string[] Problems(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return [.. doc.RootElement.GetProperty("problems").EnumerateArray().Select(p => p.GetProperty("host").GetString()!)];
    }
}
