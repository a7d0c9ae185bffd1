using AwesomeAssertions;
using Deploy.Cli;
using Deploy.Core.Model;
using Deploy.Site.Model;

namespace Deploy.Tests;

/// <summary>`./deploy config set|get|rm` edits the stack file in Pulumi's format and keeps the rest of it.</summary>
public sealed class ConfigSpecs
{
    private static (App App, StringWriter Out) AppIn(SiteFixture site)
    {
        var o = new StringWriter();
        return (new App(new Workspace(site.Dir), o, new StringWriter(), 4, false), o);
    }

    [Fact]
    public void Setting_pgw_count_rewrites_only_that_line_and_keeps_comments()
    {
        using var site = SiteFixture.FromRepo();
        var before = site.Read("stacks/Pulumi.lab.yaml");
        var (app, _) = AppIn(site);

        app.ConfigSet("lab", "pgwCount", "5").Should().Be(ExitCodes.Ok);

        var after = site.Read("stacks/Pulumi.lab.yaml");
        after.Should().Contain("  nf-deploy:pgwCount: 5\n").And.NotContain("pgwCount: 3");
        after.Replace("  nf-deploy:pgwCount: 5\n", "  nf-deploy:pgwCount: 3\n").Should().Be(before);
    }

    [Fact]
    public void Get_prints_the_value_and_rm_falls_back_to_the_default()
    {
        using var site = SiteFixture.FromRepo();
        var (app, o) = AppIn(site);
        app.ConfigSet("lab", "sipDomain", "sip.lab.example");
        app.ConfigGet("lab", "sipDomain");
        o.ToString().Should().Be("sip.lab.example\n");
        app.ConfigRm("lab", "sipDomain");
        site.Read("stacks/Pulumi.lab.yaml").Should().NotContain("sipDomain");
        o.GetStringBuilder().Clear();
        app.ConfigGet("lab", "sipDomain");
        o.ToString().Should().Be("example.net\n");
    }

    [Fact]
    public void A_new_setting_is_added_to_the_config_block_and_lists_are_written_as_yaml()
    {
        using var site = SiteFixture.FromRepo();
        var (app, o) = AppIn(site);
        app.ConfigSet("prod-example", "dnsServers", "[192.0.2.1, 192.0.2.2]");
        app.ConfigSet("prod-example", "kamailioRepo", "http://mirror.operator.example/kamailio");
        app.ConfigGet("prod-example", "dnsServers");
        o.ToString().Should().Be("[192.0.2.1, 192.0.2.2]\n");
        site.Read("stacks/Pulumi.prod-example.yaml").Should().Contain("  nf-deploy:kamailioRepo: \"http://mirror.operator.example/kamailio\"\n");
    }

    [Fact]
    public void A_quoted_key_is_set_in_place_rather_than_added_a_second_time()
    {
        using var site = SiteFixture.FromRepo();
        site.Edit("stacks/Pulumi.lab.yaml", "  nf-deploy:pgwCount: 3\n", "  \"nf-deploy:pgwCount\": 3 # P-GWs\n");
        var (app, o) = AppIn(site);

        app.ConfigSet("lab", "pgwCount", "5");

        site.Read("stacks/Pulumi.lab.yaml").Should().Contain("  \"nf-deploy:pgwCount\": 5 # P-GWs\n").And.NotContain("nf-deploy:pgwCount: 5");
        app.ConfigGet("lab", "pgwCount");
        o.ToString().Should().Be("5\n");
    }

    [Fact]
    public void A_stack_file_in_flow_style_or_with_a_bare_key_stays_valid_through_set_and_rm()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("stacks/Pulumi.prod-example.yaml", "config: {nf-deploy:inventory: prod-example, pgwCount: 2}  # compact\n");
        var (app, _) = AppIn(site);

        app.ConfigSet("prod-example", "pgwCount", "1");
        app.ConfigSet("prod-example", "sipDomain", "sip: \"odd\" # not a comment");
        app.ConfigSet("prod-example", "dnsServers", "[192.0.2.9]");
        app.ConfigRm("prod-example", "dnsServers");

        site.Read("stacks/Pulumi.prod-example.yaml").Should().Be(
            "config: {nf-deploy:inventory: prod-example, pgwCount: 1, \"nf-deploy:sipDomain\": \"sip: \\\"odd\\\" # not a comment\"}  # compact\n");
        var values = StackConfig.Load(site.Dir, ProjectFile.Load(site.Dir), "prod-example").Values;
        (values["pgwCount"], values["sipDomain"]).Should().Be((1L, "sip: \"odd\" # not a comment"));
    }

    [Fact]
    public void A_setting_written_twice_is_named_with_its_lines_and_the_file_is_left_as_it_was()
    {
        using var site = SiteFixture.FromRepo();
        site.Append("stacks/Pulumi.prod-example.yaml", "  pgwCount: 4\n");
        var before = site.Read("stacks/Pulumi.prod-example.yaml");
        var (app, _) = AppIn(site);

        var act = () => app.ConfigSet("prod-example", "pgwCount", "1");

        act.Should().Throw<DeployException>().WithMessage("'pgwCount' is set 2 times in the stack file (lines 10, 11): keep one");
        site.Read("stacks/Pulumi.prod-example.yaml").Should().Be(before);
    }

    [Fact]
    public async Task Render_writes_every_file_under_host_and_absolute_path_without_contacting_anyone()
    {
        using var site = SiteFixture.FromRepo();
        var (app, o) = AppIn(site);
        var outDir = Path.Combine(site.Dir, "out");
        (await app.RenderAsync("prod-example", outDir, TestContext.Current.CancellationToken)).Should().Be(ExitCodes.Ok);
        File.ReadAllText(Path.Combine(outDir, "sip-b", "etc", "kamailio", "kamailio.cfg")).Should().Contain("listen=udp:192.0.2.22:5060");
        File.ReadAllText(Path.Combine(outDir, "sip-b", "etc", "apt", "keyrings", "kamailio.asc")).Should().Contain("not fetched yet (offline render)");
        o.ToString().Should().StartWith($"rendered 55 files for 6 hosts into {outDir}\n"); // 3 SIP proxies, 2 P-GWs, 1 PCRF (then the note on ephemeral certificates)
    }
}
