using System.Diagnostics;
using System.Text.Json.Nodes;
using AwesomeAssertions;
using Deploy.Cli;

namespace Deploy.Integration.Tests;

/// <summary>The EPC slice on lab hosts: a PCRF pool of 2 (Debian's freeDiameterd), pgwCount P-GWs running real Open5GS
/// 2.7 (open5gs-smfd + open5gs-upfd, built from source into the lab mirror), Gx over TLS from the site CA.</summary>
[Collection("lab")]
public sealed class EpcSliceSpecs(RolledOutLab lab)
{
    private LabSite Site => lab.Site;
    private const string Prefix = "10.212.0";

    private static string Ip(string host) => host switch
    {
        "pcrf-1" => $"{Prefix}.31",
        "pcrf-2" => $"{Prefix}.32",
        _ => $"{Prefix}.{40 + int.Parse(host[4..], System.Globalization.CultureInfo.InvariantCulture)}",
    };

    private static IEnumerable<JsonObject> Changes(JsonObject plan) =>
        plan["steps"]!.AsArray().Select(s => s!.AsObject()).Where(s => (string)s["op"]! != "same");

    private static (string Host, string Type, string Name, string Op) Step(JsonObject s) =>
        ((string)s["host"]!, (string)s["type"]!, (string)s["name"]!, (string)s["op"]!);

    private int ConfigSet(string key, string value) => new App(new Workspace(Site.Dir), new StringWriter(), new StringWriter(), 4, false).ConfigSet(Site.Stack, key, value);

    private async Task PeersOpenAsync(string pgw, params string[] pcrfs)
    {
        var realm = Site.Read($"stacks/Pulumi.{Site.Stack}.yaml").Split('\n').Single(l => l.Contains("nf-deploy:realm:")).Split(": ")[1].Trim();
        var ids = string.Join(' ', pcrfs.Select(p => $"{p}.{realm}"));
        // the SMF's own freeDiameter: Open5GS logs "CONNECTED TO '<peer>' (TCP,TLS,soc#N)" when a peer enters STATE_OPEN
        var r = await Site.ShAtAsync(pgw, Ip(pgw), $"/usr/local/lib/nf-deploy/fd-peers-open --open5gs /var/log/open5gs/smf.log {ids}; grep -c 'CONNECTED TO .*(TCP,TLS' /var/log/open5gs/smf.log");
        r.ExitCode.Should().Be(0, $"{pgw}: {r.Stdout}{r.Stderr}");
        r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last().Should().NotBe("0", "the peers are connected over TLS");
    }

    private async Task<string> CertSumAsync(string host) => (await Site.ShAtAsync(host, Ip(host), $"sha256sum /etc/nf-deploy/tls/{host}.cert.pem; stat -c %Y /etc/nf-deploy/tls/{host}.cert.pem")).Stdout;

    [Fact]
    public async Task Every_pgw_has_an_open_tls_diameter_connection_to_both_pcrfs_and_up_says_they_are_healthy()
    {
        lab.FirstUp.Exit.Should().Be(0, lab.FirstUp.Out + lab.FirstUp.Err);
        foreach (var h in new[] { "pcrf-1", "pcrf-2", "pgw-1", "pgw-2", "pgw-3" })
            lab.FirstUp.Out.Should().MatchRegex($"(?m)^{h}: ok, \\d+ changed, healthy$");
        foreach (var pgw in new[] { "pgw-1", "pgw-2", "pgw-3" })
            await PeersOpenAsync(pgw, "pcrf-1", "pcrf-2");
        var daemons = await Site.ShAtAsync("pgw-1", Ip("pgw-1"), "if [ -d /run/systemd/system ]; then systemctl is-active --quiet open5gs-smfd && systemctl is-active --quiet open5gs-upfd; " +
            "else /etc/init.d/open5gs-smfd status && /etc/init.d/open5gs-upfd status; fi && dpkg-query -W -f '${Version} ${Description}\\n' open5gs-smf");
        daemons.ExitCode.Should().Be(0, daemons.Stdout + daemons.Stderr);
        daemons.Stdout.Should().Contain("2.7.7").And.NotContain("STAND-IN", "the real Open5GS SMF runs, not the stand-in");
    }

    [Fact]
    public async Task Scaling_pgws_3_to_5_to_2_changes_exactly_the_pgws_and_the_pcrfs_peer_lists()
    {
        var pcrfCerts = await CertSumAsync("pcrf-1");
        var pki = Path.Combine(Site.Dir, ".nf-deploy", "pki", Site.Stack);
        var pkiStamp = Directory.GetFiles(pki).ToDictionary(f => f, File.GetLastWriteTimeUtc);
        try
        {
            // 3 → 5
            ConfigSet("pgwCount", "5").Should().Be(ExitCodes.Ok);
            var grow = await Site.PreviewJson();
            grow.Exit.Should().Be(0, grow.Err);
            var changes = Changes(grow.Json).Select(Step).ToList();
            changes.Where(c => c.Host is "pgw-4" or "pgw-5").Should().OnlyContain(c => c.Op == "create");
            changes.Should().Contain(("pgw-4", "nfdeploy:lab:Host", "pgw-4", "create")).And.Contain(("pgw-5", "nfdeploy:lab:Host", "pgw-5", "create"));
            changes.Where(c => c.Host is not ("pgw-4" or "pgw-5")).Should().BeEquivalentTo(new[]
            {
                ("pcrf-1", "nfdeploy:fs:File", "/etc/hosts#freediameter peers", "update"),
                ("pcrf-1", "nfdeploy:fs:File", "/etc/freeDiameter/pcrf.conf", "update"),
                ("pcrf-1", "nfdeploy:svc:Service", "freediameter", "update"),
                ("pcrf-2", "nfdeploy:fs:File", "/etc/hosts#freediameter peers", "update"),
                ("pcrf-2", "nfdeploy:fs:File", "/etc/freeDiameter/pcrf.conf", "update"),
                ("pcrf-2", "nfdeploy:svc:Service", "freediameter", "update"),
            }, "nothing but the new P-GWs and the PCRFs' peer lists (and the restart they cause) changes");

            var up = await Site.Up();
            up.Exit.Should().Be(0, up.Out + up.Err);
            foreach (var h in new[] { "pcrf-1", "pcrf-2", "pgw-1", "pgw-2", "pgw-3", "pgw-4", "pgw-5" })
                up.Out.Should().MatchRegex($"(?m)^{h}: ok, \\d+ changed, healthy$");
            await PeersOpenAsync("pgw-5", "pcrf-1", "pcrf-2");
            Changes((await Site.PreviewJson()).Json).Should().BeEmpty("a second up changes nothing");

            // 5 → 2
            ConfigSet("pgwCount", "2").Should().Be(ExitCodes.Ok);
            var shrink = await Site.PreviewJson();
            var shrinkChanges = Changes(shrink.Json).Select(Step).ToList();
            shrinkChanges.Where(c => c.Type == "nfdeploy:lab:Host").Should().BeEquivalentTo(new[]
            {
                ("pgw-3", "nfdeploy:lab:Host", "pgw-3", "delete"), ("pgw-4", "nfdeploy:lab:Host", "pgw-4", "delete"), ("pgw-5", "nfdeploy:lab:Host", "pgw-5", "delete"),
            });
            shrinkChanges.Where(c => c.Type != "nfdeploy:lab:Host").Select(c => c.Host).Distinct().Should().BeEquivalentTo("pcrf-1", "pcrf-2");

            up = await Site.Up();
            up.Exit.Should().Be(0, up.Out + up.Err);
            (await DockerNamesAsync()).Should().Contain("nfd-it-pgw-2").And.NotContain("nfd-it-pgw-3").And.NotContain("nfd-it-pgw-5");
            var pcrfConf = (await Site.ShAtAsync("pcrf-2", Ip("pcrf-2"), "grep -c ConnectPeer /etc/freeDiameter/pcrf.conf")).Stdout.Trim();
            pcrfConf.Should().Be("2");
            await PeersOpenAsync("pgw-2", "pcrf-1", "pcrf-2");
            Changes((await Site.PreviewJson()).Json).Should().BeEmpty();

            (await CertSumAsync("pcrf-1")).Should().Be(pcrfCerts, "scaling does not re-issue the PCRFs' certificates");
            foreach (var (f, t) in pkiStamp) File.GetLastWriteTimeUtc(f).Should().Be(t, $"{Path.GetFileName(f)} is kept");
        }
        finally
        {
            ConfigSet("pgwCount", "3");
            (await Site.Up()).Exit.Should().Be(0);
        }
    }

    [Fact]
    public async Task A_new_realm_reissues_every_certificate_rewrites_every_identity_and_the_site_comes_back_healthy()
    {
        var before = await CertSumAsync("pgw-1");
        var stack = $"stacks/Pulumi.{Site.Stack}.yaml";
        var original = Site.Read(stack);
        try
        {
            ConfigSet("realm", "epc.lab.nf-deploy.test").Should().Be(ExitCodes.Ok);
            var preview = await Site.PreviewJson();
            var certs = Changes(preview.Json).Select(Step).Where(c => c.Name.EndsWith(".cert.pem", StringComparison.Ordinal) && c.Name.Contains($"/{c.Host}.", StringComparison.Ordinal)).ToList();
            certs.Select(c => c.Host).Should().BeEquivalentTo("pcrf-1", "pcrf-2", "pgw-1", "pgw-2", "pgw-3");

            var up = await Site.Up();
            up.Exit.Should().Be(0, up.Out + up.Err);
            (await CertSumAsync("pgw-1")).Should().NotBe(before);
            (await Site.ShAtAsync("pgw-1", Ip("pgw-1"), "openssl x509 -noout -subject -in /etc/nf-deploy/tls/pgw-1.cert.pem")).Stdout.Should().Contain("CN = pgw-1.epc.lab.nf-deploy.test");
            (await Site.ShAtAsync("pgw-1", Ip("pgw-1"), "grep Identity /etc/freeDiameter/pgw.conf")).Stdout.Should().Contain("pgw-1.epc.lab.nf-deploy.test");
            await PeersOpenAsync("pgw-1", "pcrf-1", "pcrf-2");
        }
        finally
        {
            Site.Write(stack, original);
            (await Site.Up()).Exit.Should().Be(0);
        }
    }

    private static async Task<string> DockerNamesAsync()
    {
        var psi = new ProcessStartInfo("docker", "ps -a --format {{.Names}}") { RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        var o = await p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        await p.WaitForExitAsync(TestContext.Current.CancellationToken);
        return o;
    }
}
