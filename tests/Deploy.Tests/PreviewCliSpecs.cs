using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using AwesomeAssertions;
using Deploy.Cli;

namespace Deploy.Tests;

/// <summary>Through ./deploy itself: the greenfield preview of the lab site by group, once per change, with first starts
/// and <c>--diff</c>; and <c>--json</c> on every verb that reports (one JSON document on stdout, all other text on stderr).</summary>
public sealed class PreviewCliSpecs
{
    /// <summary>The repository's lab site under a stack of its own: no container of it exists, so every lab host is new
    /// and nothing is contacted (the greenfield preview).</summary>
    private static (SiteFixture Site, string Stack) Greenfield()
    {
        var site = SiteFixture.FromRepo();
        var stack = "gf" + Guid.NewGuid().ToString("N")[..8];
        site.Write($"stacks/Pulumi.{stack}.yaml", site.Read("stacks/Pulumi.lab.yaml"));
        site.Write(".nf-deploy/lab/mirror-key.asc", TestKeys.Armored + "\n"); // as scripts/lab-up copies the lab mirror's key
        return (site, stack);
    }

    [Fact]
    public async Task A_greenfield_preview_of_the_lab_shows_each_change_once_per_group_with_first_starts_not_restarts()
    {
        var (site, stack) = Greenfield();
        using var _ = site;

        var (exit, stdout, stderr) = await DeployProcess.RunAsync(site.Dir, null, "preview", "--stack", stack);
        var (_, json, _) = await DeployProcess.RunAsync(site.Dir, null, "preview", "--stack", stack, "--json");

        exit.Should().Be(ExitCodes.Ok, stderr);
        stdout.Should().Contain("kamailio: kamailio-1, kamailio-2, kamailio-3\n").And.Contain("pgw: pgw-1, pgw-2, pgw-3\n");
        stdout.Should().Contain("    3 hosts (kamailio-1, kamailio-2, kamailio-3):\n");
        stdout.Should().Contain("+ nfdeploy:fs:File         /etc/kamailio/kamailio.cfg  [content: ∅ → sha256:{own}]  ({own}: each host's own)");
        stdout.Should().MatchRegex(@"\n    \(\d+ first starts\)\n").And.NotContain("restart");
        stdout.Should().NotContain("\u001b[", "no colour when stdout is not a terminal");
        var steps = JsonNode.Parse(json)!["steps"]!.AsArray().Count;
        stdout.Split('\n').Length.Should().BeLessThan(steps, "identical changes on several hosts are shown once");
    }

    [Fact]
    public async Task Preview_with_diff_shows_a_new_files_content_once_for_the_hosts_it_is_the_same_on()
    {
        var (site, stack) = Greenfield();
        using var _ = site;

        var (exit, stdout, stderr) = await DeployProcess.RunAsync(site.Dir, null, "preview", "--stack", stack, "--diff");
        var (_, plain, _) = await DeployProcess.RunAsync(site.Dir, null, "preview", "--stack", stack);

        exit.Should().Be(ExitCodes.Ok, stderr);
        stdout.Should().Contain("/etc/kamailio/kamailio.cfg  (same content on 3 hosts; {host}, {address}: each host's own)\n" +
            "          --- /dev/null\n          +++ {host}:/etc/kamailio/kamailio.cfg (desired)\n          @@ -0,0 +1,");
        Regex.Matches(stdout, Regex.Escape("+++ {host}:/etc/kamailio/kamailio.cfg (desired)")).Count.Should().Be(1);
        plain.Should().NotContain("+++ ").And.NotContain("/dev/null", "without --diff a new file is just its creation");
    }

    /// <summary>Each verb that reports, with the keys its JSON document has.</summary>
    public static TheoryData<string, string> Verbs => new()
    {
        { "preview --stack prod-example --json", "stack steps changeSummary problems rollout" },
        { "refresh --stack prod-example --json", "stack drifts problems" },
        { "health --stack prod-example --json", "stack ok hosts problems" },
        { "destroy --stack prod-example --yes --json", "stack ok deleted problems" },
        { "restart --stack prod-example --target sip-a --yes --json", "stack ok hosts problems" },
        { "render --stack prod-example --out out --json", "stack out files" },
        { "test --stack prod-example --json", "stack tests" },
        { "config --stack prod-example --json", "nf-deploy:pgwCount" },
        { "stack history --stack prod-example --json", "" },
        { "stack ls --json", "" },
        { "whoami --json", "user url" },
    };

    [Theory]
    [MemberData(nameof(Verbs))]
    public async Task A_verb_with_json_prints_one_json_document_on_stdout_and_its_text_on_stderr(string command, string keys)
    {
        using var site = SiteFixture.FromRepo();
        LoopbackSite(site);

        var (exit, stdout, stderr) = await DeployProcess.RunAsync(site.Dir, null, command.Split(' '));

        exit.Should().BeOneOf([ExitCodes.Ok, ExitCodes.Failed], stderr);
        var document = JsonNode.Parse(stdout); // one document: parsing fails on anything before or after it
        document.Should().NotBeNull(stdout);
        foreach (var key in keys.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            document!.AsObject().ContainsKey(key).Should().BeTrue($"{command} has '{key}': {stdout}");
        if (command.StartsWith("stack ls", StringComparison.Ordinal))
            document!.AsArray().Select(s => (string)s!["name"]!).Should().Contain(["lab", "prod-example"]);
    }

    [Fact]
    public async Task Refresh_json_keeps_the_unreachable_hosts_in_the_document_and_their_errors_on_stderr()
    {
        using var site = SiteFixture.FromRepo();
        LoopbackSite(site);

        var (exit, stdout, stderr) = await DeployProcess.RunAsync(site.Dir, null, "refresh", "--stack", "prod-example", "--json");

        exit.Should().Be(ExitCodes.Failed);
        JsonNode.Parse(stdout)!["problems"]!.AsArray().Select(p => (string)p!["host"]!).Should().Contain("sip-a");
        stderr.Should().Contain("sip-a: error:");
    }

    /// <summary>prod-example with its machines on loopback addresses, a key that does not exist (nothing is ever
    /// reached) and its apt keys in the controller's cache.</summary>
    private static void LoopbackSite(SiteFixture site)
    {
        var inventory = Regex.Replace(site.Read("inventory/prod-example.yaml"), @"address: (192\.0\.2|198\.51\.100)\.(\d+)", "address: 127.0.0.$2");
        site.Write("inventory/prod-example.yaml", inventory.Replace("key: ~/.ssh/id_ed25519", "key: .nf-deploy/no-such-key", StringComparison.Ordinal));
        foreach (var url in new[] { "https://deb.kamailio.org/kamailiodebkey.gpg", "https://download.opensuse.org/repositories/home:/acetcom:/open5gs:/latest/Debian_12/Release.key" })
        {
            var cached = Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(url)))[..24] + ".asc";
            site.Write(".nf-deploy/cache/keys/" + cached, TestKeys.Armored + "\n");
        }
    }
}
