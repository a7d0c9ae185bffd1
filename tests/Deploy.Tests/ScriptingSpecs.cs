using System.Text.Json;
using AwesomeAssertions;
using Deploy.Site.Model;

namespace Deploy.Tests;

/// <summary>
/// Pulumi's scripting conventions through ./deploy itself: --json is one JSON document on stdout (all other text on
/// stderr), usage errors exit 2 before anything is read or contacted, a --stack that names no stack creates nothing,
/// secrets are printed by <c>config get</c> and masked in listings.
/// </summary>
public sealed class ScriptingSpecs
{
    private static Task<(int Exit, string Stdout, string Stderr)> Deploy(SiteFixture site, params string[] args) =>
        DeployProcess.RunAsync(site.Dir, null, args);

    [Fact]
    public async Task A_mistyped_option_exits_2_with_the_error_on_stderr_and_nothing_on_stdout()
    {
        using var site = SiteFixture.FromRepo();

        var (exit, stdout, stderr) = await Deploy(site, "preview", "--stak", "lab");

        exit.Should().Be(2);
        stdout.Should().BeEmpty();
        stderr.Should().Contain("'--stak'").And.Contain("usage: ./deploy preview --help");
    }

    [Fact]
    public async Task Up_without_yes_and_without_a_terminal_stops_before_reading_the_site_or_contacting_a_host()
    {
        using var site = SiteFixture.FromRepo();

        var plain = await Deploy(site, "up", "--stack", "lab");
        var nonInteractive = await Deploy(site, "up", "--stack", "lab", "--non-interactive");

        foreach (var (exit, stdout, stderr) in new[] { plain, nonInteractive })
        {
            (exit, stdout).Should().Be((2, ""));
            stderr.Should().Be("error: up needs --yes when not run from a terminal (or with --non-interactive): nothing was read or changed\n");
        }
        Directory.Exists(Path.Combine(site.Dir, ".nf-deploy")).Should().BeFalse("no lab key was made and no host known");
        Directory.Exists(Path.Combine(site.Dir, ".pulumi")).Should().BeFalse("no lock was taken");
    }

    [Fact]
    public async Task A_stack_that_does_not_exist_is_refused_and_never_created_except_by_stack_init()
    {
        using var site = SiteFixture.FromRepo();

        var set = await Deploy(site, "config", "set", "pgwCount", "5", "--stack", "labb");
        var preview = await Deploy(site, "preview", "--stack", "labb");

        foreach (var (exit, stdout, stderr) in new[] { set, preview })
        {
            (exit, stdout).Should().Be((2, ""));
            stderr.Should().Be("error: no stack 'labb': stacks/Pulumi.labb.yaml does not exist (stacks: lab, prod-example); a new one is made by ./deploy stack init labb\n");
        }
        File.Exists(Path.Combine(site.Dir, "stacks/Pulumi.labb.yaml")).Should().BeFalse();

        (await Deploy(site, "stack", "init", "labb")).Exit.Should().Be(0);
        (await Deploy(site, "config", "set", "pgwCount", "5", "--stack", "labb")).Should().Be((0, "", ""));
        (await Deploy(site, "config", "get", "pgwCount", "--stack", "labb")).Should().Be((0, "5\n", ""));
        (await Deploy(site, "config", "get", "sipDomain", "--stack", "labb")).Stdout.Should().Be("example.net\n", "an unset setting has its default");
        (await Deploy(site, "stack", "init", "labb")).Should().Be((1, "", "error: stack 'labb' already exists (stacks/Pulumi.labb.yaml)\n"));
    }

    [Fact]
    public async Task Config_get_prints_a_secrets_value_while_listings_mask_it_unless_show_secrets()
    {
        using var site = SiteFixture.FromRepo();
        var secret = (string)StackConfig.Load(site.Dir, ProjectFile.Load(site.Dir), "lab").Decrypted(SiteFixture.LabPassphrase).Values["kamailioDbPassword"]!;

        (await Deploy(site, "config", "get", "kamailioDbPassword", "--stack", "lab")).Should().Be((0, secret + "\n", ""));
        var listing = await Deploy(site, "config", "--stack", "lab");
        listing.Stdout.Should().MatchRegex(@"(?m)^kamailioDbPassword +\[secret\]$").And.NotContain(secret);
        (await Deploy(site, "config", "--stack", "lab", "--show-secrets")).Stdout.Should().MatchRegex($"(?m)^kamailioDbPassword +{System.Text.RegularExpressions.Regex.Escape(secret)}$");

        var json = await Deploy(site, "config", "--stack", "lab", "--json");
        using var doc = JsonDocument.Parse(json.Stdout);
        doc.RootElement.GetProperty("nf-deploy:kamailioDbPassword").GetRawText().Should().NotContain(secret).And.Contain("\"secret\": true");
        doc.RootElement.GetProperty("nf-deploy:pgwCount").GetProperty("value").GetString().Should().Be("3");
        doc.RootElement.GetProperty("nf-deploy:dnsServers").GetProperty("objectValue")[0].GetString().Should().Be("10.211.0.1");

        var withoutPassphrase = await DeployProcess.RunAsync(site.Dir, new Dictionary<string, string?> { ["PULUMI_CONFIG_PASSPHRASE"] = "" },
            "config", "get", "kamailioDbPassword", "--stack", "lab");
        withoutPassphrase.Should().Be((1, "", "error: stack lab has secret settings: set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to its passphrase\n"));
    }

    [Fact]
    public async Task Config_set_path_changes_one_field_of_a_list_setting_and_nothing_else_of_the_file()
    {
        using var site = SiteFixture.FromRepo();
        var before = site.Read("stacks/Pulumi.lab.yaml");

        (await Deploy(site, "config", "set", "--path", "uacRegistrations[0].expires", "600", "--stack", "lab")).Should().Be((0, "", ""));

        var after = site.Read("stacks/Pulumi.lab.yaml");
        after.Replace("      expires: 600\n", "      expires: 300\n").Should().Be(before);
        (await Deploy(site, "config", "get", "--path", "uacRegistrations[0].expires", "--stack", "lab")).Should().Be((0, "600\n", ""));
        (await Deploy(site, "config", "set", "--path", "uacRegistrations[0", "1", "--stack", "lab")).Exit.Should().Be(2);
    }

    [Fact]
    public async Task Up_json_prints_one_json_document_and_every_other_line_on_stderr()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("roles/bare.yaml", "description: no network function\nnfs: []\n")
            .Write("inventory/solo.yaml", "ssh: { user: root, key: keys/id, port: 1 }\nhosts:\n  solo-1:\n    address: 127.0.0.1\n    roles: [bare]\n")
            .Write("stacks/Pulumi.solo.yaml", "config:\n  nf-deploy:inventory: solo\n");
        Directory.CreateDirectory(Path.Combine(site.Dir, "keys"));
        using (var keygen = System.Diagnostics.Process.Start("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", Path.Combine(site.Dir, "keys/id")]))
            await keygen.WaitForExitAsync(TestContext.Current.CancellationToken);

        var (exit, stdout, stderr) = await Deploy(site, "up", "--stack", "solo", "--yes", "--json"); // nothing listens on 127.0.0.1:1

        exit.Should().Be(1);
        using var doc = JsonDocument.Parse(stdout);
        doc.RootElement.GetProperty("problems")[0].GetProperty("host").GetString().Should().Be("solo-1");
        stderr.Should().Contain("solo-1: FAILED: host solo-1: unreachable");
        (await Deploy(site, "up", "--stack", "solo", "--json")).Should().Be((2, "", "error: up --json needs --yes (the plan is not shown before the JSON, so there is nothing to confirm)\n"));
    }
}
