using System.Security.Cryptography;
using System.Text;
using AwesomeAssertions;
using Deploy.Cli;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Resources;

namespace Deploy.Tests;

/// <summary>
/// The hostile-input catalogue, first half: values in site files that would reach a host as code are refused when the
/// site is compiled (preview and up compile before touching any host), each with its file:line. The second half,
/// <see cref="HostileScriptSpecs"/>, runs the real scripts with what gets through and shows it inert.
/// <para>Each row breaks the repository's own site the way an attacker's pull request would, and every line of the
/// error must be exactly <c>file:line: message (rendering for host H)</c>, for each host the value reaches.</para>
/// </summary>
[Collection(PassphraseEnvironment.Name)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class HostileInputCatalogueSpecs
{
    /// <summary>A hostile edit, and the file:line and message every line of the error must have.</summary>
    public sealed record Row(string Story, Action<SiteFixture> Break, string Where, string Message, bool PerHost = true);

    private const string Pwn = "/tmp/nfd-never-created";

    private static readonly Row[] Rows =
    [
        // 1. SQL: names that would close a quote, a backtick or the here-document; privileges beyond the allow-list
        new("A_database_user_that_closes_its_quote_is_refused",
            s => s.Edit("nf/mariadb/nf.yaml", "db_user: kamailio", "db_user: \"kamailio'@'%' IDENTIFIED BY 'x'; --\""),
            "nf/mariadb/nf.yaml:{line of 'user: \"{{ vars.db_user }}\"' in nf/mariadb/nf.yaml}",
            "database user 'kamailio'@'%' IDENTIFIED BY 'x'; --' must be letters, digits and '_', '-', '.' (at most 80)"),
        new("A_database_user_with_a_newline_that_would_close_the_sql_here_document_is_refused",
            s => s.Edit("nf/mariadb/nf.yaml", "db_user: kamailio", $"db_user: \"kamailio\\nNFD_SQL\\ntouch {Pwn}\""),
            "nf/mariadb/nf.yaml:{line of 'user: \"{{ vars.db_user }}\"' in nf/mariadb/nf.yaml}",
            $"database user 'kamailio\\nNFD_SQL\\ntouch {Pwn}' must be letters, digits and '_', '-', '.' (at most 80)"),
        new("A_database_name_with_a_backtick_is_refused",
            s => s.Edit("nf/mariadb/nf.yaml", "db_name: kamailio", "db_name: \"kamailio`; DROP DATABASE mysql; --\""),
            "nf/mariadb/nf.yaml:{line of 'name: kamailio-uacreg' in nf/mariadb/nf.yaml}",
            "database name 'kamailio`; DROP DATABASE mysql; --' must be letters, digits and '_' (at most 64, not starting with a digit)"),
        new("A_grant_of_a_privilege_beyond_the_allow_list_is_refused",
            s => s.Edit("nf/mariadb/nf.yaml", "grants: [\"ALL PRIVILEGES ON {{ vars.db_name }}.*\"]", "grants: [\"ALL PRIVILEGES ON {{ vars.db_name }}.*\", \"FILE, SUPER ON kamailio.*\"]"),
            "nf/mariadb/nf.yaml:{line of 'user: \"{{ vars.db_user }}\"' in nf/mariadb/nf.yaml}",
            "grant 'FILE, SUPER ON kamailio.*': privilege 'FILE' is not one a site may grant (ALL, ALL PRIVILEGES, ALTER, ALTER ROUTINE, CREATE, CREATE ROUTINE, CREATE TEMPORARY TABLES, CREATE VIEW, DELETE, DROP, EVENT, EXECUTE, INDEX, INSERT, LOCK TABLES, REFERENCES, SELECT, SHOW VIEW, TRIGGER, UPDATE)"),
        new("A_grant_that_smuggles_a_second_statement_is_refused",
            s => s.Edit("nf/mariadb/nf.yaml", "db_name: kamailio", "db_name: \"kamailio.* TO root; --\""),
            "nf/mariadb/nf.yaml:{line of 'name: kamailio-uacreg' in nf/mariadb/nf.yaml}",
            "database name 'kamailio.* TO root; --' must be letters, digits and '_' (at most 64, not starting with a digit)"),
        new("A_registration_key_with_a_newline_is_refused_at_its_line_of_the_stack_file",
            s => s.Edit("stacks/Pulumi.lab.yaml", "- l_uuid: trunk1", $"- l_uuid: \"trunk1\\nNFD_SQL\\ntouch {Pwn}\""),
            "stacks/Pulumi.lab.yaml:{line of 'l_uuid: \"trunk1' in stacks/Pulumi.lab.yaml}",
            $"uacRegistrations[0] (l_uuid trunk1\\nNFD_SQL\\ntouch {Pwn}): l_uuid 'trunk1\\nNFD_SQL\\ntouch {Pwn}' holds a control character (\\n)", PerHost: false),

        // 2. service names
        new("A_service_name_that_climbs_out_of_init_d_is_refused",
            s => s.Edit("nf/kamailio/nf.yaml", "services:\n", "services:\n  - name: ../../tmp/evilsvc\n"),
            "nf/kamailio/nf.yaml:{line of 'name: ../../tmp/evilsvc' in nf/kamailio/nf.yaml}",
            "service name '../../tmp/evilsvc' must be letters, digits and '-', '_', '.', '@', ':' (at most 128, starting with a letter or digit)"),
        new("A_service_name_with_a_command_substitution_is_refused",
            s => s.Edit("nf/kamailio/nf.yaml", "services:\n", $"services:\n  - name: \"kamailio$(touch {Pwn})\"\n"),
            "nf/kamailio/nf.yaml:{line of 'name: \"kamailio$(touch' in nf/kamailio/nf.yaml}",
            $"service name 'kamailio$(touch {Pwn})' must be letters, digits and '-', '_', '.', '@', ':' (at most 128, starting with a letter or digit)"),

        // 5. purge guard
        new("A_purged_directory_that_is_etc_is_refused",
            s => s.Edit("nf/kamailio-instance/nf.yaml", "- { path: \"{{ nf.etc }}\", purge: true }", "- { path: /etc/, purge: true }"),
            "nf/kamailio-instance/nf.yaml:{line of 'path: /etc/, purge: true' in nf/kamailio-instance/nf.yaml}",
            "purged directory '/etc/' is a system directory: a purge removes everything in it"),
        new("A_purged_directory_that_climbs_to_usr_is_refused",
            s => s.Edit("nf/kamailio-instance/nf.yaml", "- { path: \"{{ nf.etc }}\", purge: true }", "- { path: \"{{ nf.etc }}/../../usr\", purge: true }"),
            "nf/kamailio-instance/nf.yaml:{line of '/../../usr' in nf/kamailio-instance/nf.yaml}",
            "purged directory '/etc/kamailio-*/../../usr' must be written plainly: it is '/usr' (no '.', '..' or '//')"),

        // 6. packages
        new("A_package_name_that_apt_would_take_as_an_option_is_refused",
            s => s.Edit("nf/kamailio/nf.yaml", "packages:\n  - kamailio", $"packages:\n  - \"-oAPT::Update::Pre-Invoke::=touch {Pwn}\""),
            "nf/kamailio/nf.yaml:{line of '-oAPT::Update' in nf/kamailio/nf.yaml}",
            $"package name '-oAPT::Update::Pre-Invoke::=touch {Pwn}' is not a Debian package name (lowercase letters, digits, '+', '-', '.', starting with a letter or digit)"),

        // 3. names on certificates and in NF configs' quoted strings (identity: of nf.yaml) must be DNS names
        new("A_host_identity_that_would_close_the_quote_of_an_nf_config_is_refused",
            s => s.Edit("nf/kamailio-instance/nf.yaml", "host: \"{{ host.name }}.{{ config.realm }}\"",
                "host: '{{ host.name }}.ims\"; include \"/tmp/x'"),
            "nf/kamailio-instance/nf.yaml:{line of 'host: '{{ host.name }}.ims' in nf/kamailio-instance/nf.yaml}",
            "the host's identity '*.ims\"; include \"/tmp/x' must be a DNS name: labels of letters, digits, '-' and '_' joined by '.' (at most 253)"),

        // 4. a value that meets a script through `| sh` may not hold a control character; values in shell-sourced files are numbers
        new("A_control_socket_with_a_newline_is_refused_where_it_meets_the_health_command",
            s => s.Edit("roles/ims.yaml", "pcscf: { sip_port: 5060,", $"pcscf: {{ ctl_socket: \"/run/x/ctl\\ntouch {Pwn}\", sip_port: 5060,"),
            "templates/kamailio/instance/kamailio.cfg.sbn:{line of 'modparam(\"ctl\", \"binrpc\"' in templates/kamailio/instance/kamailio.cfg.sbn}",
            "dq_escape: the value holds a control character (U+000A) at character 11; a value that meets a script or a config string may not"),
        new("A_shared_memory_size_that_is_shell_is_refused_before_it_reaches_etc_default",
            s => s.Edit("nf/kamailio/nf.yaml", "shm_memory: 64", $"shm_memory: \"64; touch {Pwn}\""),
            "nf/kamailio/nf.yaml:{line of 'that: \"{{ (((' in nf/kamailio/nf.yaml}",
            $"shm_memory and pkg_memory must be whole numbers of MiB, not '64; touch {Pwn}' and '8' (they go into /etc/default/kamailio*, which init scripts source as shell)"),
    ];

    public static TheoryData<string> Stories => [.. Rows.Select(r => r.Story)];

    [Theory]
    [MemberData(nameof(Stories))]
    public async Task A_hostile_value_is_refused_at_compile_time_with_its_file_and_line(string story)
    {
        var row = Rows.Single(r => r.Story == story);
        using var site = SiteFixture.FromRepo();
        row.Break(site);

        var act = () => site.RenderAsync();

        var lines = (await act.Should().ThrowAsync<DeployException>()).Which.Message.Split('\n');
        var prefix = FaultCatalogueSpecs.Expected(site, row.Where) + ": ";
        lines.Should().NotBeEmpty().And.AllSatisfy(l => l.Should().Match(prefix + row.Message + (row.PerHost ? " (rendering for host *)" : "")));
        File.Exists(Pwn).Should().BeFalse();
    }

    [Fact]
    public void Every_story_is_told_once() => Rows.Select(r => r.Story).Should().OnlyHaveUniqueItems();

    [Theory]
    [InlineData("/etc/")]
    [InlineData("/etc")]
    [InlineData("/etc/.")]
    [InlineData("//etc")]
    [InlineData("/etc/../usr")]
    [InlineData("/")]
    [InlineData("/usr/lib")]
    [InlineData("/var/lib")]
    [InlineData("/lib64")]
    [InlineData("/home")]
    [InlineData("/tmp")]
    [InlineData("/opt/")]
    [InlineData("/proc/1")]
    [InlineData("/dev/shm")]
    [InlineData("etc/kamailio-x")]
    [InlineData("/run/./kamailio-x")]
    [InlineData("/run/kamailio-x\n")]
    [InlineData("/etc/kamailio-x/..")]
    [InlineData("/etc/systemd")]
    public void A_purged_directory_must_be_plain_and_no_system_directory(string path) =>
        Shapes.PurgeablePath(path).Should().NotBeNull();

    [Theory]
    [InlineData("/etc/kamailio-pcscf")]
    [InlineData("/run/kamailio-pcscf")]
    [InlineData("/etc/kamailio-pcscf/tls/")]
    [InlineData("/var/lib/nfd-x")]
    public void An_instances_own_directory_may_be_purged(string path) => Shapes.PurgeablePath(path).Should().BeNull();

    [Theory]
    [InlineData("kamailio", true)]
    [InlineData("kamailio@pcscf", true)]
    [InlineData("open5gs-pgwd", true)]
    [InlineData("systemd-resolved.service", true)]
    [InlineData("../../tmp/evilsvc", false)]
    [InlineData("a..b", false)]
    [InlineData("-x", false)]
    [InlineData("a b", false)]
    [InlineData("a;b", false)]
    [InlineData("a\nb", false)]
    [InlineData("a\0b", false)]
    [InlineData("$(x)", false)]
    [InlineData("`x`", false)]
    [InlineData("a'b", false)]
    [InlineData("", false)]
    public void Service_names_have_a_strict_shape(string name, bool ok) => (Shapes.ServiceName(name) is null).Should().Be(ok);

    [Theory]
    [InlineData("kamailio", true)]
    [InlineData("libc6:amd64", true)]
    [InlineData("g++", true)]
    [InlineData("open5gs-pgw", true)]
    [InlineData("-oAPT::Update::Pre-Invoke::=x", false)]
    [InlineData("--reinstall", false)]
    [InlineData("Kamailio", false)]
    [InlineData("a b", false)]
    [InlineData("kamailio\n", false)]
    [InlineData("kamailio=5.6", false)]
    [InlineData("k", false)]
    [InlineData("a;b", false)]
    public void Package_names_have_debians_shape(string name, bool ok) => (Shapes.PackageName(name) is null).Should().Be(ok);

    [Theory]
    [InlineData("ALL PRIVILEGES ON kamailio.*", true)]
    [InlineData("SELECT, INSERT ON kamailio.uacreg", true)]
    [InlineData("select on kamailio.*", true)]
    [InlineData("ALL ON *.*", false)]
    [InlineData("FILE ON kamailio.*", false)]
    [InlineData("ALL ON kamailio.* WITH GRANT OPTION", false)]
    [InlineData("ALL ON kamailio.*; DROP USER root", false)]
    [InlineData("ALL ON `k`.*", false)]
    [InlineData("ALL ON kamailio.*\n", false)]
    [InlineData("SUPER ON k.*", false)]
    public void Grants_come_from_an_allow_list_on_one_database(string grant, bool ok) => (Shapes.Grant(grant) is null).Should().Be(ok);

    [Theory]
    [InlineData("kamailio", true)]
    [InlineData("k_1", true)]
    [InlineData("1k", false)]
    [InlineData("k`", false)]
    [InlineData("k-1", false)]
    [InlineData("k k", false)]
    [InlineData("k\n", false)]
    public void Sql_names_have_a_strict_shape(string name, bool ok) => (Shapes.SqlIdentifier(name, "name") is null).Should().Be(ok);

    [Fact]
    public async Task A_template_output_over_a_mebibyte_is_written_whole()
    {
        using var site = SiteFixture.FromRepo();
        site.Append("templates/kamailio/default.sbn", "# {{ 'x' | string.pad_right 1500000 }}\n");

        var hosts = await site.RenderAsync();

        var content = hosts["kamailio-1"].Resources.OfType<FileSpec>().Single(f => f.Path == "/etc/default/kamailio").Content;
        content.Should().EndWith("x" + new string(' ', 1_499_999) + "\n", "Scriban's default would cut it at 1 MiB and end it with ...");
    }

    [Fact]
    public async Task Secrets_in_the_state_are_hashed_with_the_stacks_own_key_not_a_bare_sha256()
    {
        using var site = SiteFixture.FromRepo();
        var hosts = await site.RenderAsync();
        var user = hosts["ims-1"].Resources.OfType<SqlUserSpec>().Single();
        var row = hosts["ims-1"].Resources.OfType<SqlRowSpec>().First();

        user.HashKey.Should().NotBeNullOrEmpty().And.Be(row.HashKey);
        var live = new Deploy.Resources.SqlRowProvider().Parse(row,
            new Dictionary<string, string> { ["exists"] = "1", ["c.auth_password"] = "hunter2" }, HostFacts.Assumed("ims-1", "10.0.0.1"))!;
        var bare = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("hunter2")));
        live["auth_password"].Should().StartWith("hmac-sha256:").And.HaveLength("hmac-sha256:".Length + 64).And.NotContain(bare[..16]);
        var otherKey = new Deploy.Resources.SqlRowProvider().Parse(row with { HashKey = Convert.ToBase64String(new byte[32]) },
            new Dictionary<string, string> { ["exists"] = "1", ["c.auth_password"] = "hunter2" }, HostFacts.Assumed("ims-1", "10.0.0.1"))!;
        otherKey["auth_password"].Should().NotBe(live["auth_password"], "without the stack's key the hash cannot be checked against a guess");

        // a config file holding the database password leaves a keyed content hash too; a plain file its SHA-256
        var cfg = hosts["ims-1"].Resources.OfType<FileSpec>().Single(f => f.Path == "/etc/kamailio-scscf/kamailio.cfg");
        cfg.Secret.Should().BeTrue();
        var files = new Deploy.Resources.FileProvider(ResourceTypes.File);
        var facts = HostFacts.Assumed("ims-1", "10.0.0.1");
        var read = new Dictionary<string, string> { ["exists"] = "1", ["owner"] = "root", ["group"] = "kamailio", ["mode"] = "0640", ["sha256"] = cfg.Sha256 + "  -" };
        files.Parse(cfg, read, facts)!["sha256"].Should().StartWith("hmac-sha256:").And.NotContain(cfg.Sha256);
        files.Diff(cfg, files.Parse(cfg, read, facts)).Should().Be(ResourceDiff.Same);
        var plain = hosts["ims-1"].Resources.OfType<FileSpec>().First(f => !f.Secret);
        files.Parse(plain, read, facts)!["sha256"].Should().Be(cfg.Sha256);
    }

    [Fact]
    public async Task Render_out_writes_secret_files_and_private_keys_0600()
    {
        using var site = SiteFixture.FromRepo();
        site.Write(".nf-deploy/lab/mirror-key.asc", TestKeys.Armored + "\n"); // as scripts/lab-up copies the lab mirror's key
        Environment.SetEnvironmentVariable("PULUMI_CONFIG_PASSPHRASE", SiteFixture.LabPassphrase);
        try
        {
            var app = new App(new Workspace(site.Dir), new StringWriter(), new StringWriter(), 4, false);
            var outDir = Path.Combine(site.Dir, "out");
            (await app.RenderAsync("lab", outDir, TestContext.Current.CancellationToken)).Should().Be(ExitCodes.Ok);

            const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            File.GetUnixFileMode(Path.Combine(outDir, "pcrf-1", "etc", "nf-deploy", "tls", "pcrf-1.key.pem")).Should().Be(Private);
            File.GetUnixFileMode(Path.Combine(outDir, "ims-1", "etc", "kamailio-scscf", "kamailio.cfg")).Should().Be(Private, "it holds the database password");
            File.GetUnixFileMode(Path.Combine(outDir, "ims-1", "etc", "kamailio-pcscf", "tls", "key.pem")).Should().Be(Private);
            File.GetUnixFileMode(Path.Combine(outDir, "kamailio-1", "etc", "default", "kamailio")).HasFlag(UnixFileMode.OtherRead).Should().BeTrue("a plain file keeps its mode");
        }
        finally { Environment.SetEnvironmentVariable("PULUMI_CONFIG_PASSPHRASE", null); }
    }
}
