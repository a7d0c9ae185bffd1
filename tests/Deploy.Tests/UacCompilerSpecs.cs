using System.Collections.Immutable;
using AwesomeAssertions;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Resources;

namespace Deploy.Tests;

/// <summary>
/// UAC registration (the seed's "UAC for Remote User Registration"): the outbound registrations of the stack config
/// become rows of Kamailio's uacreg table in the IMS box's MariaDB, with the table layout of the Kamailio release,
/// passwords from secret settings, and the S-CSCF pointed at them. Facts in, resources out.
/// </summary>
public sealed class UacCompilerSpecs
{
    private static async Task<ImmutableArray<ResourceSpec>> ImsResourcesAsync(SiteFixture site) => (await site.RenderAsync())["ims-1"].Resources;

    private static int LineOf(SiteFixture site, string file, string text) =>
        site.Read(file).Split('\n').Select((l, i) => (l, i)).First(x => x.l.Contains(text, StringComparison.Ordinal)).i + 1;

    private static async Task<string> ErrorOf(SiteFixture site)
    {
        var act = () => site.RenderAsync();
        return (await act.Should().ThrowAsync<DeployException>()).Which.Message;
    }

    [Fact]
    public async Task The_ims_box_gets_kamailios_uacreg_table_a_database_user_and_one_row_per_registration()
    {
        using var site = SiteFixture.FromRepo();
        var config = (await site.LoadAsync()).Config;
        var trunkPassword = (string)config.Values["trunkPassword"]!;
        var dbPassword = (string)config.Values["kamailioDbPassword"]!;
        var ims = await ImsResourcesAsync(site);

        var schema = ims.OfType<SqlSchemaSpec>().Should().ContainSingle().Subject;
        (schema.Database, schema.Schema).Should().Be(("kamailio", "kamailio-uacreg"));
        schema.Tables.Should().Equal("uacreg", "version");
        schema.Sql.Should().Contain("CREATE TABLE IF NOT EXISTS `uacreg`").And.Contain("`contact_addr` VARCHAR(255)")
            .And.Contain("VALUES ('uacreg', '5')", "Kamailio 5.6 reads uacreg table version 5");

        var user = ims.OfType<SqlUserSpec>().Should().ContainSingle().Subject;
        (user.User, user.From, user.Password).Should().Be(("kamailio", "localhost", dbPassword));
        user.Grants.Should().Equal("ALL PRIVILEGES ON kamailio.*");

        var row = ims.OfType<SqlRowSpec>().Should().ContainSingle().Subject;
        (row.Database, row.Table, row.KeyColumn, row.KeyValue).Should().Be(("kamailio", "uacreg", "l_uuid", "trunk1"));
        row.Columns.Should().Equal(new Dictionary<string, string>
        {
            ["auth_password"] = trunkPassword, ["auth_proxy"] = "sip:10.211.0.25:5060", ["auth_username"] = "ims-trunk",
            ["contact_addr"] = "", ["expires"] = "300", ["flags"] = "0", ["l_domain"] = "lab.nf-deploy.test", ["l_username"] = "scscf",
            ["l_uuid"] = "trunk1", ["r_domain"] = "trunk.lab.nf-deploy.test", ["r_username"] = "ims-trunk", ["realm"] = "trunk.lab.nf-deploy.test",
            ["reg_delay"] = "0",
        });
        row.SecretColumns.Should().Equal("auth_password");
        row.Notify.Should().Equal(["kamailio@scscf"], "the S-CSCF's uac reads uacreg when it starts (ims-1 of the lab boots systemd)");

        // the resources come in order: the server, then its tables, then the S-CSCF that reads them
        var order = ims.Select(r => r.Key).ToList();
        order.IndexOf(row.Key).Should().BeGreaterThan(order.IndexOf(ims.OfType<ServiceSpec>().Single(s => s.Service == "mariadb").Key))
            .And.BeLessThan(order.IndexOf(ims.OfType<ServiceSpec>().Single(s => s.Service == "kamailio@scscf").Key));

        var cfg = ims.OfType<FileSpec>().Single(f => f.Path == "/etc/kamailio-scscf/kamailio.cfg");
        cfg.Content.Should().Contain($"modparam(\"uac\", \"reg_db_url\", \"mysql://kamailio:{dbPassword}@localhost/kamailio\")")
            .And.Contain("modparam(\"uac\", \"reg_contact_addr\", \"10.211.0.21:5080\")").And.Contain("loadmodule \"db_mysql.so\"");
        (cfg.Secret, cfg.Mode, cfg.Group).Should().Be((true, "0640", "kamailio"), "it holds the database password");
        ims.OfType<PackageSpec>().Select(p => p.Package).Should().Contain(["mariadb-server", "kamailio-mysql-modules"]);
        ims.OfType<FileSpec>().Single(f => f.Path == "/etc/kamailio-pcscf/kamailio.cfg").Content.Should().NotContain("uac", "only the S-CSCF registers");
    }

    [Fact]
    public async Task The_lab_registrar_accepts_the_registrations_accounts_in_a_secret_config()
    {
        using var site = SiteFixture.FromRepo();
        var trunkPassword = (string)(await site.LoadAsync()).Config.Values["trunkPassword"]!;
        var cfg = (await site.RenderAsync())["trunk-1"].Resources.OfType<FileSpec>().Single(f => f.Path == "/etc/kamailio-registrar/kamailio.cfg");
        cfg.Content.Should().Contain($"$sht(accounts=>ims-trunk) = \"{trunkPassword}\";").And.Contain("www_challenge(\"trunk.lab.nf-deploy.test\", \"0\")");
        (cfg.Secret, cfg.Mode).Should().Be((true, "0640"));
    }

    [Fact]
    public async Task Kamailio_5_4_gets_uacreg_table_version_4_without_contact_addr()
    {
        using var site = SiteFixture.FromRepo();
        site.Edit("stacks/Pulumi.lab.yaml", "nf-deploy:kamailioVersion: \"5.6\"", "nf-deploy:kamailioVersion: \"5.4\"");
        var ims = await ImsResourcesAsync(site);
        var schema = ims.OfType<SqlSchemaSpec>().Single();
        schema.Sql.Should().NotContain("contact_addr").And.Contain("VALUES ('uacreg', '4')");
        ims.OfType<SqlRowSpec>().Single().Columns.Should().NotContainKey("contact_addr");
    }

    [Fact]
    public async Task A_registration_without_its_proxy_uri_names_its_line_in_the_stack_file()
    {
        using var site = SiteFixture.FromRepo();
        site.Edit("stacks/Pulumi.lab.yaml", "      auth_proxy: sip:10.211.0.25:5060\n", "");
        (await ErrorOf(site)).Should().Be(
            $"stacks/Pulumi.lab.yaml:{LineOf(site, "stacks/Pulumi.lab.yaml", "- l_uuid: trunk1")}: uacRegistrations[0] (l_uuid trunk1): " +
            "auth_proxy is missing (the registrar's SIP URI, e.g. sip:trunk.example.net:5060)");
    }

    [Fact]
    public async Task A_proxy_that_is_not_a_sip_uri_names_its_line_in_the_stack_file()
    {
        using var site = SiteFixture.FromRepo();
        site.Edit("stacks/Pulumi.lab.yaml", "auth_proxy: sip:10.211.0.25:5060", "auth_proxy: http://10.211.0.25:5060");
        (await ErrorOf(site)).Should().Be(
            $"stacks/Pulumi.lab.yaml:{LineOf(site, "stacks/Pulumi.lab.yaml", "- l_uuid: trunk1")}: uacRegistrations[0] (l_uuid trunk1): " +
            "auth_proxy 'http://10.211.0.25:5060' is not a sip: URI");
    }

    [Fact]
    public async Task A_registration_password_must_come_from_a_secret_setting()
    {
        using var site = SiteFixture.FromRepo();
        site.Edit("stacks/Pulumi.lab.yaml", "auth_password_secret: trunkPassword", "auth_password_secret: sipDomain");
        (await ErrorOf(site)).Should().Be(
            $"stacks/Pulumi.lab.yaml:{LineOf(site, "stacks/Pulumi.lab.yaml", "- l_uuid: trunk1")}: uacRegistrations[0] (l_uuid trunk1): " +
            "column auth_password must come from a secret setting (./deploy config set KEY VALUE --secret)");
    }

    [Fact]
    public async Task Two_registrations_with_one_l_uuid_are_refused()
    {
        using var site = SiteFixture.FromRepo();
        var text = site.Read("stacks/Pulumi.lab.yaml");
        var entry = text[text.IndexOf("    - l_uuid: trunk1", StringComparison.Ordinal)..text.IndexOf("  nf-deploy:kamailioDbPassword", StringComparison.Ordinal)];
        site.Write("stacks/Pulumi.lab.yaml", text.Replace(entry, entry + entry, StringComparison.Ordinal));
        var second = site.Read("stacks/Pulumi.lab.yaml").Split('\n').Select((l, i) => (l, i)).Where(x => x.l.Contains("- l_uuid: trunk1", StringComparison.Ordinal)).Last().i + 1;
        (await ErrorOf(site)).Should().Be($"stacks/Pulumi.lab.yaml:{second}: uacRegistrations[1] (l_uuid trunk1): l_uuid 'trunk1' is already used by uacRegistrations[0]");
    }

    [Fact]
    public void A_row_diff_shows_changed_columns_and_masks_the_password()
    {
        var row = new SqlRowSpec("kamailio", "uacreg", "l_uuid", "trunk1",
            ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, new Dictionary<string, string> { ["l_uuid"] = "trunk1", ["expires"] = "300", ["auth_password"] = "new-secret" }))
        { Host = "ims-1", Name = "kamailio.uacreg/trunk1", SecretColumns = ["auth_password"] };
        var provider = new SqlRowProvider();
        var live = provider.Parse(row, new Dictionary<string, string> { ["exists"] = "1", ["c.id"] = "7", ["c.l_uuid"] = "trunk1", ["c.expires"] = "600", ["c.auth_password"] = "old-secret" }, HostFacts.Assumed("ims-1", "10.0.0.1"))!;

        live.Props.Keys.Should().BeEquivalentTo(["l_uuid", "expires", "auth_password"], "only declared columns are ours; the id is the table's");
        live["auth_password"].Should().StartWith("hmac-sha256:").And.NotContain("old-secret");
        var diff = provider.Diff(row, live);
        diff.Op.Should().Be(StepOp.Update);
        diff.Changes.Should().BeEquivalentTo([new PropertyChange("auth_password", "[secret]", "[secret]"), new PropertyChange("expires", "600", "300")]);

        var same = provider.Parse(row, new Dictionary<string, string> { ["exists"] = "1", ["c.l_uuid"] = "trunk1", ["c.expires"] = "300", ["c.auth_password"] = "new-secret" }, HostFacts.Assumed("ims-1", "10.0.0.1"));
        provider.Diff(row, same).Should().Be(ResourceDiff.Same);
        provider.Diff(row, null).Changes.Should().Contain(new PropertyChange("auth_password", null, "[secret]"));
    }

    [Fact]
    public void A_database_password_is_compared_as_mysql_stores_it_and_never_shown()
    {
        // MySQL's mysql_native_password form of "password" (the documented example value)
        SqlUserProvider.NativeHash("password").Should().Be("*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19");
    }

    [Fact]
    public void Database_probes_never_end_the_hosts_shared_read_script()
    {
        // every probe of a host runs in one shell: an `exit` in one would cut off the reads after it
        var id = ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, new Dictionary<string, string>
        { ["database"] = "kamailio", ["schema"] = "s", ["table"] = "uacreg", ["key"] = "l_uuid", ["value"] = "trunk1", ["user"] = "kamailio", ["from"] = "localhost" });
        foreach (var p in new IResourceProvider[] { new SqlSchemaProvider(), new SqlUserProvider(), new SqlRowProvider() })
            p.Probe(id).Should().NotMatchRegex(@"\bexit\b").And.StartWith("if command -v mysql");
    }
}
