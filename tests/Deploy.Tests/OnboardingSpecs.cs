using AwesomeAssertions;

namespace Deploy.Tests;

/// <summary>
/// A team bringing its own site: through ./deploy itself, the likely mistakes are said on stderr with their file:line
/// (a misspelt var with the known name it is closest to, a setting still at its placeholder), never failing the verb;
/// pgwCount above its group is one clear error; an offline render says which facts it assumed; an apt key taken from a
/// file of the project (a path or file://) works, and a bad one is one line, never a stack trace.
/// </summary>
[Collection(PassphraseEnvironment.Name)]
public sealed class OnboardingSpecs : IDisposable
{
    private readonly SiteFixture _site = SiteFixture.FromRepo();

    public void Dispose() => _site.Dispose();

    private Task<(int Exit, string Stdout, string Stderr)> Render(string stack = "prod-example") =>
        DeployProcess.RunAsync(_site.Dir, null, "render", "--stack", stack, "--out", Path.Combine(_site.Dir, "out"));

    private int Line(string file, string text) => Array.FindIndex(_site.Read(file).Split('\n'), l => l.Contains(text, StringComparison.Ordinal)) + 1;

    private static void NoStackTrace(string stderr) => stderr.Should().NotContain("   at ").And.NotContain("internal error");

    [Fact]
    public async Task A_misspelt_var_is_warned_at_its_line_with_the_closest_known_name_and_the_render_goes_on()
    {
        _site.Edit("inventory/prod-example.yaml", "      listen_interface: ens4\n      dmq_hosts_entry: false", "      listen_interfce: ens4\n      dmq_hosts_entry: false\n      frobnicate: 3");

        var (exit, _, stderr) = await Render();

        exit.Should().Be(0, stderr);
        stderr.Should().Contain($"warning: inventory/prod-example.yaml:{Line("inventory/prod-example.yaml", "listen_interfce")}: var 'listen_interfce' " +
            "is declared by no NF of the site (nor read by nf-deploy itself); did you mean 'listen_interface'?\n");
        stderr.Should().Contain($"warning: inventory/prod-example.yaml:{Line("inventory/prod-example.yaml", "frobnicate")}: var 'frobnicate' " +
            "is declared by no NF of the site (nor read by nf-deploy itself): it has no effect\n");
    }

    [Fact]
    public async Task The_shipped_sites_have_no_warnings()
    {
        _site.Write(".nf-deploy/lab/mirror-key.asc", TestKeys.Armored + "\n");

        foreach (var stack in new[] { "prod-example", "lab" })
        {
            var (exit, _, stderr) = await Render(stack);

            exit.Should().Be(0, stderr);
            stderr.Should().NotContain("warning:");
        }
    }

    [Fact]
    public async Task A_site_of_real_machines_still_on_the_placeholder_domain_is_warned_with_the_command_that_sets_it()
    {
        _site.Edit("stacks/Pulumi.prod-example.yaml", "  nf-deploy:sipDomain: sip.operator.example\n", "");

        var (exit, _, stderr) = await Render();

        exit.Should().Be(0, stderr);
        stderr.Should().Contain("warning: stacks/Pulumi.prod-example.yaml: setting 'sipDomain' is still the placeholder default 'example.net' of Pulumi.yaml; " +
            "set the site's own: ./deploy config set sipDomain <value> --stack prod-example\n");
        stderr.Should().NotContain("'realm'", "the realm is the site's own");
    }

    [Fact]
    public async Task A_lab_site_on_the_placeholder_domain_is_not_warned_since_no_real_machine_gets_it()
    {
        _site.Edit("stacks/Pulumi.lab.yaml", "  nf-deploy:sipDomain: lab.nf-deploy.test\n", "");

        var site = await _site.LoadAsync("lab");

        site.Config.Values["sipDomain"].Should().Be("example.net");
        site.Warnings.Should().BeEmpty();
    }

    [Fact]
    public async Task More_pgws_than_the_group_has_machines_is_one_error_at_the_group_with_the_command_that_fixes_it()
    {
        var set = await DeployProcess.RunAsync(_site.Dir, null, "config", "set", "pgwCount", "3", "--stack", "prod-example");
        set.Exit.Should().Be(0, set.Stderr);

        var (exit, stdout, stderr) = await Render();

        (exit, stdout).Should().Be((1, ""));
        stderr.Should().Be($"error: inventory/prod-example.yaml:{Line("inventory/prod-example.yaml", "count: pgwCount")}: group 'pgw': pgwCount is 3 " +
            "but the group lists only 2 machines (pgw-a, pgw-b); add machines or lower pgwCount (./deploy config set pgwCount 2 --stack prod-example)\n");
    }

    [Fact]
    public async Task An_offline_render_says_where_each_hosts_facts_came_from_and_what_it_assumed()
    {
        _site.Edit("inventory/prod-example.yaml",
            "    address: 192.0.2.42\n    facts: { codename: bookworm, init: systemd, default_interface: ens3, interfaces: { ens3: [10.20.0.42], ens4: [192.0.2.42] } }\n",
            "    address: 192.0.2.42\n");

        var (exit, _, stderr) = await Render();

        stderr.Should().Contain("facts of sip-a, sip-b, sip-c, pgw-a, pcrf-a: declared in inventory/prod-example.yaml (facts:)\n");
        stderr.Should().Contain("warning: facts ASSUMED for pgw-b: never read and none declared, so taken as Debian bookworm, init sysv, " +
            "interfaces lo 127.0.0.1, eth0 192.0.2.42 (default route eth0)\n" +
            "    declare them under facts: of each host in inventory/prod-example.yaml, or run ./deploy preview --stack prod-example once to read them\n");
        // what follows from the assumption (the group's listen interface is not there) is an error after it
        exit.Should().Be(1);
        stderr.IndexOf("facts ASSUMED", StringComparison.Ordinal).Should().BeLessThan(stderr.IndexOf("error:", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("keys/kamailio.asc")]
    [InlineData("file://{project}/keys/kamailio.asc")]
    [InlineData("./keys/../keys/kamailio.asc")]
    public async Task An_apt_key_file_of_the_project_named_by_path_or_file_url_is_the_hosts_key(string given)
    {
        _site.Write("keys/kamailio.asc", TestKeys.Armored + "\n");
        var set = await DeployProcess.RunAsync(_site.Dir, null, "config", "set", "kamailioRepoKey", given.Replace("{project}", _site.Dir), "--stack", "prod-example");
        set.Exit.Should().Be(0, set.Stderr);

        var (exit, _, stderr) = await Render();

        exit.Should().Be(0, stderr);
        File.ReadAllText(Path.Combine(_site.Dir, "out/sip-a/etc/apt/keyrings/kamailio.asc")).Should().Be(TestKeys.Armored + "\n");
    }

    [Theory]
    [InlineData("keys/missing.asc", "apt key file keys/missing.asc not found")]
    [InlineData("file:///etc/ssh/ssh_host_ed25519_key", "apt key 'kamailio': file '/etc/ssh/ssh_host_ed25519_key' is outside the project")]
    [InlineData("file://../outside.asc", "apt key 'kamailio': file '../outside.asc' is outside the project")]
    [InlineData("keys", "apt key file keys not found")]
    [InlineData("Pulumi.yaml", "Pulumi.yaml is not an ASCII-armored OpenPGP public key")]
    public async Task A_bad_apt_key_file_is_one_error_line_at_the_nf_never_a_stack_trace(string given, string problem)
    {
        _site.Write("keys/other.asc", TestKeys.Armored + "\n");
        var set = await DeployProcess.RunAsync(_site.Dir, null, "config", "set", "kamailioRepoKey", given, "--stack", "prod-example");
        set.Exit.Should().Be(0, set.Stderr);

        var (exit, stdout, stderr) = await Render();

        (exit, stdout).Should().Be((1, ""));
        stderr.Should().StartWith("error: nf/kamailio/nf.yaml:").And.Contain(problem);
        stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().ContainSingle();
        NoStackTrace(stderr);
    }
}
