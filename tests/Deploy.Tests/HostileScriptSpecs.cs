using System.Collections.Immutable;
using System.Text;
using AwesomeAssertions;
using Deploy.Core.Probes;
using Deploy.Core.Engine;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Resources.Health;
using Deploy.Resources;
using Deploy.Transport;

namespace Deploy.Tests;

/// <summary>
/// The second half of the hostile-input catalogue: values that get past the compiler (or that a provider is handed
/// directly, as from an edited state file) are shown inert by running the REAL scripts the providers generate — the read
/// script preview sends, the content fetch of preview's diffs, the apply and delete scripts of up and destroy, the health
/// command of a compiled site — under this machine's /bin/sh (the local transport), and checking that no marker file
/// appears. Each test has its own temporary folder for markers. Programs that would change this machine (mysql, apt-get,
/// dpkg-query, systemctl, update-rc.d, kamcmd) are stand-ins on the script's PATH that record what they were given, so
/// that the data can be checked to arrive whole.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class HostileScriptSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nfd-hostile-").FullName;
    private readonly LocalShell _shell;
    private readonly CancellationToken _ct = TestContext.Current.CancellationToken;

    public HostileScriptSpecs()
    {
        Directory.CreateDirectory(Marks);
        Directory.CreateDirectory(Bin);
        // stand-ins: each logs its arguments one per line in [brackets], and mysql its stdin
        Fake("mysql", $"for a; do printf '[%s]\\n' \"$a\"; done >> '{_dir}/mysql.args'; cat >> '{_dir}/mysql.stdin'");
        Fake("apt-get", $"for a; do printf '[%s]\\n' \"$a\"; done >> '{_dir}/apt-get.args'");
        Fake("dpkg-query", $"for a; do printf '[%s]\\n' \"$a\"; done >> '{_dir}/dpkg-query.args'; printf 'status=ii \\nversion=1.0\\n'");
        Fake("kamcmd", $"for a; do printf '[%s]\\n' \"$a\"; done >> '{_dir}/kamcmd.args'; echo 'kamailio 5.6.3 (stand-in)'");
        foreach (var name in new[] { "systemctl", "update-rc.d" }) Fake(name, $"for a; do printf '[%s]\\n' \"$a\"; done >> '{_dir}/{name}.args'");
        _shell = new LocalShell(new LocalCommand(environment: new Dictionary<string, string?>
        {
            ["PATH"] = Bin + ":" + Environment.GetEnvironmentVariable("PATH"),
        }));
    }

    public void Dispose() => Directory.Delete(_dir, true);

    private string Marks => Path.Combine(_dir, "marks");
    private string Bin => Path.Combine(_dir, "bin");

    private void Fake(string name, string body)
    {
        var p = Path.Combine(Bin, name);
        File.WriteAllText(p, "#!/bin/sh\n" + body + "\nexit 0\n");
        File.SetUnixFileMode(p, (UnixFileMode)0b111_101_101);
    }

    /// <summary>Values that would run <c>touch</c> in the marker folder if any script treated them as code.</summary>
    private IReadOnlyList<string> Payloads => [
        $"'$(touch {Marks}/quote)'",
        $"\"; touch {Marks}/semicolon; #",
        $"`touch {Marks}/backtick`",
        $"$(touch {Marks}/dollar)",
        $"x' || touch {Marks}/or || '",
        $"\\'; touch {Marks}/backslash; #",
        $"a&touch {Marks}/amp&",
        $"x\nNFD_SQL\ntouch {Marks}/heredoc-sql\nNFD_SQL\n",
        $"x\nNFD_EOF\ntouch {Marks}/heredoc-eof\n",
        $"x\n\\! touch {Marks}/mysql-client-command\nsystem touch {Marks}/mysql-system\n",
    ];

    private IEnumerable<string> Printable => Payloads.Where(p => Shapes.NoControl(p, "x") is null);

    private static readonly string Huge = string.Concat(Enumerable.Repeat("$(reboot)'\"`;\n", 20_000));

    private HostRun Run() => new(_shell, HostFacts.Assumed("localhost", "127.0.0.1")) { RunId = "20261130120000" };

    private string[] MarkersLeft() => Directory.GetFiles(Marks);

    private async Task<IReadOnlyDictionary<string, string>> ReadAsync(ResourceSpec spec, IResourceProvider provider)
    {
        // exactly what preview sends: the read script of the host (facts, then the probes)
        var script = HostReader.Build([spec], _ => provider);
        var res = await _shell.RunAsync(script.Text, _ct);
        return script.Parse("localhost", res.Stdout).Probes[spec.Key];
    }

    [Fact]
    public async Task A_file_with_hostile_path_content_and_huge_content_is_read_diffed_written_and_deleted_as_data()
    {
        var files = new FileProvider(ResourceTypes.File);
        var i = 0;
        foreach (var payload in Payloads.Append("plain"))
        {
            var path = Path.Combine(_dir, "f" + i, payload.TrimEnd('\n'));
            // the resource's name frames its probe output (the compiler refuses control characters in it); the path is the payload
            var spec = new FileSpec(path, payload, "root", "root", "0644") { Host = "localhost", Name = "f" + i++ };

            (files.Parse(spec, await ReadAsync(spec, files), Run().Facts)).Should().BeNull("the file does not exist yet");
            await files.ApplyAsync(spec, files.Diff(spec, null), Run(), _ct);
            File.ReadAllText(path).Should().Be(payload);

            var changed = spec with { Content = payload + Huge };
            var live = files.Parse(changed, await ReadAsync(changed, files), Run().Facts);
            live!["sha256"].Should().Be(spec.Sha256);
            var diff = files.Diff(changed, live);
            // preview's content fetch for the diff: the URN and the path are quoted words
            var fetch = await _shell.RunAsync(ProbeProtocol.ContentFetch(changed.Urn("it"), files.View(changed)!), _ct);
            var lines = fetch.Stdout.Split('\n');
            lines[0].Should().Be("##nfd:r " + changed.Urn("it"));
            Encoding.UTF8.GetString(Convert.FromBase64String(lines[1])).Should().Be(payload);
            var hostileUrn = $"urn:pulumi:it::nf-deploy::nfdeploy:fs:File::h:{payload.TrimEnd('\n')}";
            if (Shapes.NoControl(hostileUrn, "urn") is null)
                (await _shell.RunAsync(ProbeProtocol.ContentFetch(hostileUrn, files.View(changed)!), _ct)).Stdout.Split('\n')[0].Should().Be("##nfd:r " + hostileUrn);
            else FluentActions.Invoking(() => ProbeProtocol.ContentFetch(hostileUrn, files.View(changed)!)).Should().Throw<DeployException>("a newline would break the output's framing");

            await files.ApplyAsync(changed, diff, Run(), _ct);
            File.ReadAllText(path).Should().Be(payload + Huge, "a huge content is written whole");
            File.ReadAllText(path + ".20261130120000.nfd~").Should().Be(payload, "the backup keeps the old content");
            await files.DeleteAsync(spec.Identity, Run(), _ct);
            File.Exists(path).Should().BeFalse();
        }
        MarkersLeft().Should().BeEmpty("no value of a file ran as code");
    }

    [Fact]
    public async Task A_managed_block_with_a_hostile_name_is_read_fetched_written_and_removed_as_data()
    {
        var files = new FileProvider(ResourceTypes.File);
        var path = Path.Combine(_dir, "hosts");
        File.WriteAllText(path, "127.0.0.1 localhost\n");
        foreach (var block in Printable)
        {
            var spec = new FileSpec(path, "10.0.0.1 " + block, "root", "root", "0644") { Host = "localhost", Name = path + "#" + block, Block = block };
            files.Parse(spec, await ReadAsync(spec, files), Run().Facts).Should().BeNull();
            await files.ApplyAsync(spec, files.Diff(spec, null), Run(), _ct);
            files.Parse(spec, await ReadAsync(spec, files), Run().Facts)!["sha256"].Should().Be(spec.Sha256);
            var fetch = await _shell.RunAsync(ProbeProtocol.ContentFetch(spec.Urn("it"), files.View(spec)!), _ct);
            Encoding.UTF8.GetString(Convert.FromBase64String(fetch.Stdout.Split('\n')[1])).Should().Be(spec.BlockText);
            await files.DeleteAsync(spec.Identity, Run(), _ct);
        }
        File.ReadAllText(path).Should().Be("127.0.0.1 localhost\n");
        MarkersLeft().Should().BeEmpty();
        var withNewline = new FileSpec(path, "x", "root", "root", "0644") { Host = "localhost", Name = path, Block = "a\nb" };
        await files.Invoking(f => f.ApplyAsync(withNewline, files.Diff(withNewline, null), Run(), _ct)).Should().ThrowAsync<DeployException>()
            .WithMessage("refused: block name 'a\\nb' holds a control character (\\n)");
    }

    [Fact]
    public async Task A_directory_with_a_hostile_name_is_made_read_and_purged_as_data_and_a_system_directory_is_never_purged()
    {
        var dirs = new DirectoryProvider();
        var i = 0;
        foreach (var payload in Payloads.Where(p => Shapes.NoControl(p, "x") is not null))
        {
            var path = Path.Combine(_dir, "d" + i++, payload.TrimEnd('\n'));
            var spec = new DirectorySpec(path, "root", "root", "0750") { Host = "localhost", Name = path, Purge = true };
            dirs.Invoking(d => d.Probe(spec.Identity)).Should().Throw<DeployException>().WithMessage("refused: directory path*control character*");
            await dirs.Invoking(d => d.DeleteAsync(spec.Identity, Run(), _ct)).Should().ThrowAsync<DeployException>();
        }
        foreach (var payload in Printable)
        {
            var path = Path.Combine(_dir, "d" + i++, payload);
            var spec = new DirectorySpec(path, "root", "root", "0750") { Host = "localhost", Name = path, Purge = true };
            dirs.Parse(spec, await ReadAsync(spec, dirs), Run().Facts).Should().BeNull();
            await dirs.ApplyAsync(spec, dirs.Diff(spec, null), Run(), _ct);
            Directory.Exists(path).Should().BeTrue();
            dirs.Diff(spec, dirs.Parse(spec, await ReadAsync(spec, dirs), Run().Facts)).Should().Be(ResourceDiff.Same);
            await dirs.DeleteAsync(spec.Identity, Run(), _ct);
            Directory.Exists(path).Should().BeFalse();
        }
        MarkersLeft().Should().BeEmpty();

        // a state file edited to purge a path that is not written plainly: only an rmdir of an empty directory is tried
        // (system directories are refused by the same check, shown without touching this machine's /etc in
        // HostileInputCatalogueSpecs)
        var kept = Path.Combine(_dir, "kept");
        Directory.CreateDirectory(kept);
        File.WriteAllText(Path.Combine(kept, "file"), "kept");
        foreach (var sly in new[] { kept + "/.", kept + "/../kept", _dir + "//kept", kept + "/" + "x/.." })
            await dirs.DeleteAsync(ImmutableSortedDictionary<string, string>.Empty.Add("path", sly).Add("purge", "true"), Run(), _ct);
        File.Exists(Path.Combine(kept, "file")).Should().BeTrue();
    }

    [Fact]
    public async Task A_service_name_that_is_no_service_name_is_refused_before_any_script_is_built()
    {
        var services = new ServiceProvider();
        // the issue's case: the sysv read script would have run /etc/init.d/../../<dir>/evilsvc status
        var evil = Path.Combine(_dir, "evilsvc");
        File.WriteAllText(evil, $"#!/bin/sh\ntouch {Marks}/evilsvc\n");
        File.SetUnixFileMode(evil, (UnixFileMode)0b111_101_101);
        foreach (var name in Payloads.Append("../.." + evil).Append("-x").Append("a b").Append(new string('a', 200)))
        {
            var spec = new ServiceSpec(name) { Host = "localhost", Name = name };
            services.Invoking(s => s.Probe(spec.Identity)).Should().Throw<DeployException>().WithMessage("refused: service name*");
            await services.Invoking(s => s.ApplyAsync(spec, services.Diff(spec, null), Run(), _ct)).Should().ThrowAsync<DeployException>();
            await services.Invoking(s => s.DeleteAsync(spec.Identity, Run(), _ct)).Should().ThrowAsync<DeployException>();
        }
        // a good name with a hostile pid file: quoted, read as a path
        foreach (var payload in Printable)
        {
            var spec = new ServiceSpec("nfd-hostile-test") { Host = "localhost", Name = "nfd-hostile-test", PidFile = Path.Combine(_dir, payload + ".pid") };
            services.Parse(spec, await ReadAsync(spec, services), Run().Facts).Should().BeNull("no such service here");
        }
        MarkersLeft().Should().BeEmpty();
    }

    [Fact]
    public async Task A_package_name_that_would_reach_apt_as_an_option_is_refused_and_good_ones_come_after_a_double_dash()
    {
        var packages = new PackageProvider();
        foreach (var name in Payloads.Append($"-oAPT::Update::Pre-Invoke::=touch {Marks}/apt").Append("--reinstall").Append("Kamailio"))
        {
            var spec = new PackageSpec(name) { Host = "localhost", Name = name };
            await packages.Invoking(p => p.ApplyAsync(spec, packages.Diff(spec, null), Run(), _ct)).Should().ThrowAsync<DeployException>()
                .WithMessage("refused: package name*");
            await packages.Invoking(p => p.DeleteAsync(spec.Identity, Run(), _ct)).Should().ThrowAsync<DeployException>();
        }
        var versioned = new PackageSpec("kamailio") { Host = "localhost", Name = "kamailio", Version = "5.6; touch x" };
        await packages.Invoking(p => p.ApplyAsync(versioned, packages.Diff(versioned, null), Run(), _ct)).Should().ThrowAsync<DeployException>()
            .WithMessage("refused: package version*");

        var good = new PackageSpec("kamailio") { Host = "localhost", Name = "kamailio", Version = "5.6.3-2" };
        await packages.ApplyAsync(good, packages.Diff(good, null), Run(), _ct);
        var args = File.ReadAllText(Path.Combine(_dir, "apt-get.args"));
        args.Should().EndWith("[--]\n[kamailio=5.6.3-2]\n", "apt-get install takes the package after --");
        File.ReadAllText(Path.Combine(_dir, "dpkg-query.args")).Should().Contain("[--]\n[kamailio]\n");
        MarkersLeft().Should().BeEmpty();
    }

    [Fact]
    public async Task Sql_values_travel_as_data_the_client_runs_in_binary_mode_and_names_and_grants_have_shapes()
    {
        var rows = new SqlRowProvider();
        var i = 0;
        foreach (var payload in Payloads.Append(Huge).Append("nul\0inside"))
        {
            var key = "k" + i++ + payload;
            var cols = ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, new Dictionary<string, string>
            {
                ["l_uuid"] = key, ["r_username"] = payload, ["auth_password"] = payload,
            });
            var row = new SqlRowSpec("kamailio", "uacreg", "l_uuid", key, cols) { Host = "localhost", Name = "row", SecretColumns = ["auth_password"] };
            rows.Parse(row, await ReadAsync(row, rows), Run().Facts).Should().BeNull("the stand-in mysql prints no row");
            await rows.Invoking(r => r.ApplyAsync(row, rows.Diff(row, null), Run(), _ct)).Should().ThrowAsync<DeployException>()
                .WithMessage("*row missing right after it was written*", "the stand-in stores nothing; what matters is what ran");
            await rows.DeleteAsync(row.Identity, Run(), _ct);
        }
        var users = new SqlUserProvider();
        foreach (var payload in Payloads)
        {
            var user = new SqlUserSpec("kamailio", "localhost", payload, ["ALL PRIVILEGES ON kamailio.*"]) { Host = "localhost", Name = "u" };
            await users.Invoking(u => u.ApplyAsync(user, users.Diff(user, null), Run(), _ct)).Should().ThrowAsync<DeployException>()
                .WithMessage("*user missing right after it was created*");
            var badName = user with { User = payload };
            users.Invoking(u => u.Probe(badName.Identity)).Should().Throw<DeployException>().WithMessage("refused: database user*");
            var badGrant = user with { Grants = [$"ALL ON kamailio.* TO x; {payload}"] };
            await users.Invoking(u => u.ApplyAsync(badGrant, users.Diff(badGrant, null), Run(), _ct)).Should().ThrowAsync<DeployException>()
                .WithMessage("refused: grant*");
        }
        var fileGrant = new SqlUserSpec("kamailio", "localhost", "pw", ["FILE ON kamailio.*"]) { Host = "localhost", Name = "u" };
        await users.Invoking(u => u.ApplyAsync(fileGrant, users.Diff(fileGrant, null), Run(), _ct)).Should().ThrowAsync<DeployException>()
            .WithMessage("refused: grant 'FILE ON kamailio.*': privilege 'FILE' is not one a site may grant*");

        MarkersLeft().Should().BeEmpty("no SQL value ran as shell");
        var sql = File.ReadAllText(Path.Combine(_dir, "mysql.stdin"));
        sql.Should().NotContain("\nNFD_SQL").And.NotContain("\nNFD_EOF").And.NotContain("\n\\!").And.NotContain("\nsystem ")
            .And.NotContain("\0", "every newline, NUL and quote of a value is escaped inside its string literal");
        sql.Should().Contain(@"'x\nNFD_SQL\ntouch ").And.Contain(@"'\'$(touch ").And.Contain(@"'nul\0inside'");
        sql.Should().Contain("IDENTIFIED BY '\\\"; touch ");
        File.ReadAllLines(Path.Combine(_dir, "mysql.args")).Should().Contain("[--binary-mode]", "no client command (\\! or system) runs from the SQL");
    }

    [Fact]
    public async Task A_hostile_control_socket_in_the_site_reaches_the_health_check_as_one_quoted_word()
    {
        using var site = SiteFixture.FromRepo();
        site.Edit("roles/ims.yaml", "pcscf: { sip_port: 5060,", $"pcscf: {{ ctl_socket: \"/run/x/ctl; touch {Marks}/health #\", sip_port: 5060,");
        var hosts = await site.RenderAsync();
        var check = hosts["ims-1"].Health.Single(c => c.Kind == "command" && c.Nf == "kamailio-instance@pcscf" && c.Args["command"].Contains("core.version"));
        check.Args["command"].Should().Be($"kamcmd -s 'unix:/run/x/ctl; touch {Marks}/health #' core.version");

        // what up runs after the rollout, through the same health checker, on a real shell
        var result = await new HealthChecker().CheckAsync(check, _shell, TimeSpan.FromSeconds(5), _ct);

        result.Healthy.Should().BeTrue(result.Detail);
        MarkersLeft().Should().BeEmpty();
        File.ReadAllText(Path.Combine(_dir, "kamcmd.args")).Should().Be($"[-s]\n[unix:/run/x/ctl; touch {Marks}/health #]\n[core.version]\n");
    }

    [Fact]
    public async Task Old_backups_are_pruned_on_the_host_to_the_kept_number_and_by_age_but_never_this_runs()
    {
        var files = new FileProvider(ResourceTypes.File);
        var path = Path.Combine(_dir, "cfg", "it's $(x).cfg");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "old\n");
        string[] old = ["20200101000000", "20261101000000", "20261120000000", "20261125000000", "20261129000000"];
        foreach (var run in old) File.WriteAllText($"{path}.{run}.nfd~", run);
        File.WriteAllText(path + ".notes.nfd~", "not a backup of ours");
        var spec = new FileSpec(path, "new\n", "root", "root", "0644") { Host = "localhost", Name = path, BackupKeep = 3, BackupMaxAgeDays = 30 };

        var live = files.Parse(spec, await ReadAsync(spec, files), Run().Facts);
        await files.ApplyAsync(spec, files.Diff(spec, live), Run(), _ct);

        Directory.GetFiles(Path.GetDirectoryName(path)!, "*.nfd~").Select(Path.GetFileName).Should().BeEquivalentTo([
            "it's $(x).cfg.20261125000000.nfd~", "it's $(x).cfg.20261129000000.nfd~", "it's $(x).cfg.20261130120000.nfd~",
            "it's $(x).cfg.notes.nfd~"]);
        File.ReadAllText(path + ".20261130120000.nfd~").Should().Be("old\n");

        // by age alone: a backup older than the limit goes even when fewer are kept
        var young = spec with { Content = "newer\n", BackupKeep = 10, BackupMaxAgeDays = 3 };
        var run2 = new HostRun(_shell, HostFacts.Assumed("localhost", "127.0.0.1")) { RunId = "20261130130000" };
        await files.ApplyAsync(young, files.Diff(young, files.Parse(young, await ReadAsync(young, files), Run().Facts)), run2, _ct);
        Directory.GetFiles(Path.GetDirectoryName(path)!, "*.nfd~").Select(Path.GetFileName).Should().BeEquivalentTo([
            "it's $(x).cfg.20261129000000.nfd~", "it's $(x).cfg.20261130120000.nfd~", "it's $(x).cfg.20261130130000.nfd~",
            "it's $(x).cfg.notes.nfd~"]);
    }

    [Fact]
    public void A_malformed_probe_line_fails_that_host_with_a_clear_error()
    {
        var files = new FileProvider(ResourceTypes.File);
        FileSpec F(string n) => new(Path.Combine(_dir, n), "x", "root", "root", "0644") { Host = "h", Name = n };
        var script = HostReader.Build([F("a"), F("b")], _ => files);
        var output = "##nfd:facts\nhostname=h\n##nfd:b 0\nE not-a-number\n##nfd:end\n";

        var act = () => script.Parse("pgw-2", output);

        act.Should().Throw<DeployException>().WithMessage("host pgw-2: the nfdeploy:fs:File probe printed output it cannot read (*): E not-a-number");
    }
}
