using System.Text.RegularExpressions;
using AwesomeAssertions;
using Deploy.Cli;
using Deploy.Core.Model;

namespace Deploy.Tests;

/// <summary>
/// Hostile site files against the controller: paths that try to leave their folder (to read the controller's files or
/// write outside --out), stack names that are paths, YAML built to exhaust memory or the stack, counts that never end.
/// Each is refused when the site is loaded, with its exact <c>file:line</c> error, and leaves every file of the project
/// as it was (no state, no lock). Rows read as in <see cref="FaultCatalogueSpecs"/>.
/// </summary>
[Collection(PassphraseEnvironment.Name)]
public sealed class ControllerHostileInputSpecs
{
    public sealed record Hostile(string Story, Action<SiteFixture> Break, Func<SiteFixture, Task> Command, string Error);

    private static Hostile Case(string story, Action<SiteFixture> brk, string error, string stack = "lab") =>
        new(story, brk, s => s.RenderAsync(stack), error);

    private static readonly string[] Kamailios = ["kamailio-1", "kamailio-2", "kamailio-3"];

    private static string PerHost(string error, params string[] hosts) => string.Join("\n", hosts.Select(h => error.Replace("{host}", h)));

    private static Task ConfigSet(SiteFixture site, string stack, string key, string value)
    {
        new App(new Workspace(site.Dir), new StringWriter(), new StringWriter(), 4, false).ConfigSet(stack, key, value);
        return Task.CompletedTask;
    }

    private static Task ConfigGet(SiteFixture site, string stack, string? key)
    {
        new App(new Workspace(site.Dir), new StringWriter(), new StringWriter(), 4, false).ConfigGet(stack, key);
        return Task.CompletedTask;
    }

    /// <summary>A YAML "billion laughs": nine levels of ten aliases each.</summary>
    private static string AliasBomb(string indent)
    {
        var lines = new List<string> { $"{indent}l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]" };
        for (var i = 1; i <= 9; i++)
            lines.Add($"{indent}l{i}: &l{i} [{string.Join(", ", Enumerable.Repeat($"*l{i - 1}", 10))}]");
        return string.Join("\n", lines) + "\n";
    }

    private static readonly Hostile[] Cases =
    [
        // ---- paths that leave their folder
        Case("A_source_file_above_the_nfs_files_folder_is_refused",
            s => s.Edit("nf/kamailio/nf.yaml", "source: kamailio-check.sh", "source: ../../../../../../../../etc/passwd"),
            "nf/kamailio/nf.yaml:{line of 'etc/passwd' in nf/kamailio/nf.yaml}: source file '../../../../../../../../etc/passwd' is outside nf/kamailio/files/ (a source names a file of the NF's files/ folder)"),
        Case("A_source_file_that_is_a_link_out_of_the_files_folder_is_refused",
            s =>
            {
                File.CreateSymbolicLink(Path.Combine(s.Dir, "nf/kamailio/files/passwd"), "/etc/passwd");
                s.Edit("nf/kamailio/nf.yaml", "source: kamailio-check.sh", "source: passwd");
            },
            "nf/kamailio/nf.yaml:{line of 'source: passwd' in nf/kamailio/nf.yaml}: source file 'passwd' is outside nf/kamailio/files/ (a source names a file of the NF's files/ folder)"),
        Case("An_absolute_template_path_is_not_found",
            s => s.Edit("nf/kamailio/nf.yaml", "template: kamailio/default.sbn", "template: /etc/passwd"),
            PerHost("nf/kamailio/nf.yaml:{line of 'path: /etc/default/kamailio' in nf/kamailio/nf.yaml}: template '/etc/passwd' not found (looked in nf/kamailio/templates/ and templates/) (rendering for host {host})", Kamailios)),
        Case("A_template_path_above_the_template_folders_is_not_found",
            s => s.Edit("nf/kamailio/nf.yaml", "template: kamailio/default.sbn", "template: ../../../../../../../etc/passwd"),
            PerHost("nf/kamailio/nf.yaml:{line of 'path: /etc/default/kamailio' in nf/kamailio/nf.yaml}: template '../../../../../../../etc/passwd' not found (looked in nf/kamailio/templates/ and templates/) (rendering for host {host})", Kamailios)),
        Case("A_template_that_is_a_link_to_the_site_ca_key_is_refused_unread",
            s =>
            {
                s.Write(".nf-deploy/pki/prod/ca.key.pem", "-----BEGIN PRIVATE KEY-----\nTHE-CA-KEY\n-----END PRIVATE KEY-----\n");
                File.CreateSymbolicLink(Path.Combine(s.Dir, "templates/kamailio/ca.sbn"), Path.Combine(s.Dir, ".nf-deploy/pki/prod/ca.key.pem"));
                s.Edit("nf/kamailio/nf.yaml", "template: kamailio/default.sbn", "template: kamailio/ca.sbn");
            },
            "templates/kamailio/ca.sbn: the template is a link that leads outside the template folders: refused"),
        Case("A_template_named_by_a_link_to_the_site_ca_key_is_not_found",
            s =>
            {
                s.Write(".nf-deploy/pki/prod/ca.key.pem", "-----BEGIN PRIVATE KEY-----\nTHE-CA-KEY\n-----END PRIVATE KEY-----\n");
                File.CreateSymbolicLink(Path.Combine(s.Dir, "templates/kamailio/ca.pem"), Path.Combine(s.Dir, ".nf-deploy/pki/prod/ca.key.pem"));
                s.Edit("nf/kamailio/nf.yaml", "template: kamailio/default.sbn", "template: kamailio/ca.pem");
            },
            PerHost("nf/kamailio/nf.yaml:{line of 'path: /etc/default/kamailio' in nf/kamailio/nf.yaml}: template 'kamailio/ca.pem' not found (looked in nf/kamailio/templates/ and templates/) (rendering for host {host})", Kamailios)),
        Case("An_include_above_the_template_folders_is_refused",
            s => s.Write("templates/kamailio/default.sbn", "RUN_KAMAILIO=yes\n{{ include '../../../../../../../../etc/passwd' }}\n"),
            PerHost("templates/kamailio/default.sbn:2: include '../../../../../../../../etc/passwd' is outside the template folders (templates/ and nf/*/templates/) (rendering for host {host})", Kamailios)),
        Case("An_include_of_an_absolute_path_is_refused",
            s => s.Write("templates/kamailio/default.sbn", "RUN_KAMAILIO=yes\n{{ include '/etc/passwd' }}\n"),
            PerHost("templates/kamailio/default.sbn:2: include '/etc/passwd' is outside the template folders (templates/ and nf/*/templates/) (rendering for host {host})", Kamailios)),
        Case("An_include_of_the_controllers_pki_through_the_project_is_refused",
            s => s.Write(".nf-deploy/pki/prod/ca.key.pem", "-----BEGIN PRIVATE KEY-----\nTHE-CA-KEY\n-----END PRIVATE KEY-----\n")
                  .Write("templates/kamailio/default.sbn", "RUN_KAMAILIO=yes\n{{ include '../../.nf-deploy/pki/prod/ca.key.pem' }}\n"),
            PerHost("templates/kamailio/default.sbn:2: include '../../.nf-deploy/pki/prod/ca.key.pem' is outside the template folders (templates/ and nf/*/templates/) (rendering for host {host})", Kamailios)),
        Case("A_file_path_with_dot_dot_is_refused",
            s => s.Edit("nf/kamailio/nf.yaml", "- path: /etc/default/kamailio", "- path: /etc/../../../tmp/nfd-escape"),
            PerHost("nf/kamailio/nf.yaml:{line of 'path: /etc/../../../tmp/nfd-escape' in nf/kamailio/nf.yaml}: file path '/etc/../../../tmp/nfd-escape' must be normalized (no '.' or '..' parts) (rendering for host {host})", Kamailios)),
        Case("An_apt_key_file_outside_the_project_is_refused",
            s => s.Edit("nf/kamailio/nf.yaml", "      url: \"{{ config.kamailioRepoKey }}\"\n      fingerprint: \"{{ config.kamailioRepoKeyFingerprint }}\"", "      file: ../../../../../../etc/passwd"),
            "nf/kamailio/nf.yaml:{line of 'file: ../../../../../../etc/passwd' in nf/kamailio/nf.yaml}: apt key 'kamailio': file '../../../../../../etc/passwd' is outside the project"),
        Case("An_apt_key_setting_naming_a_controller_file_is_refused",
            s => s.Edit("stacks/Pulumi.lab.yaml", "nf-deploy:kamailioRepoKey: .nf-deploy/lab/mirror-key.asc", "nf-deploy:kamailioRepoKey: /etc/passwd"),
            "nf/kamailio/nf.yaml:{line of 'url: \"{{ config.kamailioRepoKey }}\"' in nf/kamailio/nf.yaml}: apt key 'kamailio': file '/etc/passwd' is outside the project"),
        Case("A_ca_of_your_own_outside_the_project_is_refused",
            s => s.Append("stacks/Pulumi.lab.yaml", "  nf-deploy:tlsCaKey: /etc/ssl/private/ssl-cert-snakeoil.key\n"),
            "stacks/Pulumi.lab.yaml:{line of 'tlsCaKey' in stacks/Pulumi.lab.yaml}: setting 'tlsCaKey': path '/etc/ssl/private/ssl-cert-snakeoil.key' is outside the project"),
        Case("A_site_file_that_is_a_link_out_of_the_project_is_not_read",
            s =>
            {
                File.WriteAllText(s.Dir + "-outside.yaml", "nfs: [kamailio]\nvars: { controller_secret: THE-CA-KEY }\n");
                File.Delete(Path.Combine(s.Dir, "roles/sip-proxy.yaml"));
                File.CreateSymbolicLink(Path.Combine(s.Dir, "roles/sip-proxy.yaml"), s.Dir + "-outside.yaml");
            },
            "roles/sip-proxy.yaml: the file is a link that leads outside the project: refused"),
        Case("A_role_name_that_is_a_path_is_refused",
            s => s.Edit("inventory/lab.yaml", "roles: [sip-proxy]", "roles: [../../../../tmp/role]"),
            "inventory/lab.yaml:{line of '../../../../tmp/role' in inventory/lab.yaml}: '../../../../tmp/role' is not a valid role name (letters, digits, '-', '_' and '.', not starting with '.', at most 100)"),
        Case("An_nf_name_that_is_a_path_is_refused",
            s => s.Write("roles/sip-proxy.yaml", "description: x\nnfs:\n  - ../../../../tmp\n"),
            "roles/sip-proxy.yaml:3: '../../../../tmp' is not a valid network function name (letters, digits, '-', '_' and '.', not starting with '.', at most 100)"),
        Case("An_inventory_name_that_is_a_path_is_refused",
            s => s.Edit("stacks/Pulumi.lab.yaml", "nf-deploy:inventory: lab", "nf-deploy:inventory: ../../../../tmp/inv"),
            "stacks/Pulumi.lab.yaml:{line of 'nf-deploy:inventory' in stacks/Pulumi.lab.yaml}: '../../../../tmp/inv' is not a valid inventory name (letters, digits, '-', '_' and '.', not starting with '.', at most 100)"),
        Case("A_stack_config_dir_outside_the_project_is_refused",
            s => s.Edit("Pulumi.yaml", "stackConfigDir: stacks", "stackConfigDir: ../../../../tmp"),
            "Pulumi.yaml:{line of 'stackConfigDir' in Pulumi.yaml}: stackConfigDir '../../../../tmp' is outside the project"),
        new("A_stack_name_that_is_a_path_is_refused", _ => { }, s => s.RenderAsync("../../../../tmp/victim"),
            "'../../../../tmp/victim' is not a valid stack name (letters, digits, '-', '_' and '.', not starting with '.', at most 100)"),
        new("A_stack_name_with_a_newline_is_refused_and_shown_escaped", _ => { }, s => ConfigSet(s, "lab\nevil", "pgwCount", "4"),
            "'lab\\x0aevil' is not a valid stack name (letters, digits, '-', '_' and '.', not starting with '.', at most 100)"),

        // ---- input built to exhaust the controller
        Case("An_alias_bomb_in_the_inventory_is_refused",
            s => s.Append("inventory/lab.yaml", "  bomb:\n    vars:\n" + AliasBomb("      ")),
            "inventory/lab.yaml:{line of 'l4: &l4' in inventory/lab.yaml}: aliases expand to more than 100000 nodes (an alias bomb?): refused"),
        new("An_alias_bomb_in_the_stack_file_is_refused_by_config_get",
            s => s.Append("stacks/Pulumi.lab.yaml", "bomb:\n" + AliasBomb("  ")), s => ConfigGet(s, "lab", "pgwCount"),
            "stacks/Pulumi.lab.yaml:{line of 'l4: &l4' in stacks/Pulumi.lab.yaml}: aliases expand to more than 100000 nodes (an alias bomb?): refused"),
        new("An_alias_bomb_given_to_config_set_is_refused",
            _ => { }, s => ConfigSet(s, "lab", "dnsServers", "[" + string.Join(", ", Enumerable.Range(0, 1).Select(_ => "&a [x, x, x, x, x, x, x, x, x, x]")) +
                string.Concat(Enumerable.Range(0, 6).Select(i => $", &b{i} [{string.Join(", ", Enumerable.Repeat(i == 0 ? "*a" : $"*b{i - 1}", 10))}]")) + "]"),
            "the value:1: aliases expand to more than 100000 nodes (an alias bomb?): refused"),
        Case("A_map_nested_twenty_thousand_deep_is_refused",
            s => s.Append("inventory/lab.yaml", "  deep:\n    vars:\n      x: " + string.Concat(Enumerable.Repeat("{a: ", 20_000)) + "1" + new string('}', 20_000) + "\n"),
            "inventory/lab.yaml:{line of 'x: {a: {a:' in inventory/lab.yaml}: nested deeper than 64 levels: refused"),
        Case("A_site_file_over_four_mebibytes_is_refused",
            s => s.Append("roles/sip-proxy.yaml", "# " + new string('x', 4 * 1024 * 1024) + "\n"),
            "roles/sip-proxy.yaml: file is 4194677 bytes; site files may be at most 4 MiB"),
        Case("A_count_of_a_billion_hosts_is_refused",
            s => s.Edit("stacks/Pulumi.lab.yaml", "nf-deploy:pgwCount: 3", "nf-deploy:pgwCount: 1000000000"),
            "inventory/lab.yaml:{line of 'count: pgwCount' in inventory/lab.yaml}: group 'pgw': count (pgwCount) is 1000000000; a group may have at most 10000 hosts"),
        new("Config_set_of_a_list_with_a_newline_is_refused",
            _ => { }, s => ConfigSet(s, "lab", "dnsServers", "[10.0.0.1]\nevil: injected"),
            "'dnsServers': a value of type array is one line: control characters (a newline, a tab...) are refused"),
        new("Config_set_of_an_integer_with_a_newline_is_refused",
            _ => { }, s => ConfigSet(s, "lab", "pgwCount", "4\nnf-deploy:evil: 1"),
            "'pgwCount': a value of type integer is one line: control characters (a newline, a tab...) are refused"),
    ];

    public static TheoryData<string> Stories => [.. Cases.Select(c => c.Story)];

    [Theory]
    [MemberData(nameof(Stories))]
    public async Task Hostile_input_is_refused_with_its_line_and_changes_nothing(string story)
    {
        var c = Cases.Single(x => x.Story == story);
        using var site = SiteFixture.FromRepo();
        c.Break(site);
        var before = FaultCatalogueSpecs.Snapshot(site.Dir);

        var act = () => c.Command(site);

        var message = (await act.Should().ThrowAsync<DeployException>()).Which.Message;
        message.Should().Be(FaultCatalogueSpecs.Expected(site, c.Error).Replace("4194677", Size(site, "roles/sip-proxy.yaml")));
        message.Should().NotContain("root:x:0:0").And.NotContain("THE-CA-KEY", "no controller file is ever shown");
        FaultCatalogueSpecs.Snapshot(site.Dir).Should().Equal(before, "a refused command changes no file of the project");
        Directory.Exists(Path.Combine(site.Dir, ".pulumi")).Should().BeFalse("no state and no lock were written");
    }

    private static string Size(SiteFixture site, string rel) =>
        File.Exists(Path.Combine(site.Dir, rel)) ? new FileInfo(Path.Combine(site.Dir, rel)).Length.ToString(System.Globalization.CultureInfo.InvariantCulture) : "";

    [Fact]
    public void Every_hostile_story_is_told_once() => Cases.Select(c => c.Story).Should().OnlyHaveUniqueItems();

    [Fact]
    public async Task Cancel_with_a_stack_name_that_is_a_path_deletes_nothing()
    {
        using var site = SiteFixture.FromRepo();
        var victim = Path.Combine(Path.GetTempPath(), "nfd-victim-" + Guid.NewGuid().ToString("N")[..8]);
        await File.WriteAllTextAsync(victim + ".json", "precious", TestContext.Current.CancellationToken);
        try
        {
            var app = new App(new Workspace(site.Dir), new StringWriter(), new StringWriter(), 4, false);
            var relative = Path.GetRelativePath(Path.Combine(site.Dir, ".pulumi", "locks", "nf-deploy"), victim);

            var act = () => app.Cancel(relative, force: true);

            act.Should().Throw<DeployException>().Which.Message.Should().Be($"'{relative}' is not a valid stack name (letters, digits, '-', '_' and '.', not starting with '.', at most 100)");
            File.ReadAllText(victim + ".json").Should().Be("precious");
        }
        finally { File.Delete(victim + ".json"); }
    }

    [Fact]
    public async Task Render_never_writes_outside_out_through_a_link_it_finds_there()
    {
        using var site = SiteFixture.FromRepo();
        var outDir = Path.Combine(site.Dir, "out");
        var elsewhere = Path.Combine(site.Dir, "elsewhere");
        Directory.CreateDirectory(Path.Combine(outDir, "sip-b"));
        Directory.CreateDirectory(elsewhere);
        File.CreateSymbolicLink(Path.Combine(outDir, "sip-b", "etc"), elsewhere);
        var app = new App(new Workspace(site.Dir), new StringWriter(), new StringWriter(), 4, false);

        var act = () => app.RenderAsync("prod-example", outDir, TestContext.Current.CancellationToken);

        (await act.Should().ThrowAsync<DeployException>()).Which.Message.Should().StartWith("host sip-b: file /etc/").And.EndWith("would be written outside " + Path.Combine(outDir, "sip-b") + "/: refused");
        Directory.GetFileSystemEntries(elsewhere).Should().BeEmpty();
    }

    [Fact]
    public async Task Render_into_a_file_is_one_clear_error()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("out", "not a folder");
        var app = new App(new Workspace(site.Dir), new StringWriter(), new StringWriter(), 4, false);

        var act = () => app.RenderAsync("prod-example", Path.Combine(site.Dir, "out"), TestContext.Current.CancellationToken);

        (await act.Should().ThrowAsync<DeployException>()).Which.Message.Should().Be($"--out {Path.Combine(site.Dir, "out")} is a file: render writes into a folder (<out>/<host>/<path on the host>)");
        site.Read("out").Should().Be("not a folder");
    }

    [Fact]
    public async Task Render_into_a_file_through_deploy_is_one_error_line()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("out", "not a folder");

        var (exit, stdout, stderr) = await DeployProcess.RunAsync(site.Dir, null, "render", "--stack", "prod-example", "--out", "out");

        (exit, stdout, stderr).Should().Be((1, "", "error: --out out is a file: render writes into a folder (<out>/<host>/<path on the host>)\n"));
    }

    [Theory]
    [InlineData("cancel", "--stack", "../../../../tmp/victim")]
    [InlineData("preview", "--stack", "../lab")]
    [InlineData("config", "get", "pgwCount", "--stack", ".hidden")]
    [InlineData("destroy", "--yes", "--stack", "lab/../lab")]
    public async Task Every_verb_checks_the_stack_name(params string[] args)
    {
        using var site = SiteFixture.FromRepo();
        var before = FaultCatalogueSpecs.Snapshot(site.Dir);
        var name = args[Array.IndexOf(args, "--stack") + 1];

        var (exit, stdout, stderr) = await DeployProcess.RunAsync(site.Dir, null, args);

        (exit, stdout, stderr).Should().Be((1, "", $"error: '{name}' is not a valid stack name (letters, digits, '-', '_' and '.', not starting with '.', at most 100)\n"));
        FaultCatalogueSpecs.Snapshot(site.Dir).Should().Equal(before);
    }

    [Fact]
    public void Config_set_of_a_string_with_a_newline_stays_one_setting()
    {
        using var site = SiteFixture.FromRepo();
        var o = new StringWriter();
        var app = new App(new Workspace(site.Dir), o, new StringWriter(), 4, false);

        app.ConfigSet("lab", "sipDomain", "x.example\nnf-deploy:pgwCount: 9");

        site.Read("stacks/Pulumi.lab.yaml").Should().Contain("  nf-deploy:sipDomain: \"x.example\\nnf-deploy:pgwCount: 9\"\n");
        app.ConfigGet("lab", "pgwCount");
        app.ConfigGet("lab", "sipDomain");
        o.ToString().Should().Be("3\nx.example\nnf-deploy:pgwCount: 9\n");
    }
}
