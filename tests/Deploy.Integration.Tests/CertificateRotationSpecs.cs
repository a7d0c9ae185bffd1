using System.Security.Cryptography;
using System.Text.Json.Nodes;
using AwesomeAssertions;
using Deploy.Cli;

namespace Deploy.Integration.Tests;

/// <summary>The whole lab site (Kamailio DMQ cluster, IMS box with its SIP trunk, PCRFs and P-GWs) on its own network,
/// subnet and stack: rolled out once, shared by the certificate specs, destroyed at the end.</summary>
public sealed class FullLab() : RolledOutSite(new LabSite(network: "nfd-full", subnetPrefix: "10.216.0", stack: "full"))
{
    public static readonly (string Host, int Ip)[] Hosts =
        [("kamailio-1", 11), ("kamailio-2", 12), ("kamailio-3", 13), ("ims-1", 21), ("trunk-1", 25), ("pcrf-1", 31), ("pcrf-2", 32), ("pgw-1", 41), ("pgw-2", 42), ("pgw-3", 43)];

    /// <summary>Each host's certificate and key as it has them on disk (the IMS box: the P-CSCF's TLS copy).</summary>
    public static readonly (string Host, string Cert, string Key, string Ca)[] Pairs =
    [
        ("ims-1", "/etc/kamailio-pcscf/tls/cert.pem", "/etc/kamailio-pcscf/tls/key.pem", "/etc/kamailio-pcscf/tls/ca.pem"),
        .. new[] { "pcrf-1", "pcrf-2", "pgw-1", "pgw-2", "pgw-3" }.Select(h => (h, $"/etc/nf-deploy/tls/{h}.cert.pem", $"/etc/nf-deploy/tls/{h}.key.pem", "/etc/nf-deploy/tls/ca.cert.pem")),
    ];

    public string Ip(string host) => $"{Site.SubnetPrefix}.{Hosts.Single(h => h.Host == host).Ip}";

    public async Task<string> Sh(string host, string script)
    {
        var r = await Site.ShAtAsync(host, Ip(host), script);
        if (!r.Ok) throw new InvalidOperationException($"{host}: `{script}` failed ({r.ExitCode}): {r.Stderr}");
        return r.Stdout;
    }
}

[CollectionDefinition("full")]
public sealed class FullLabCollection : ICollectionFixture<FullLab>;

/// <summary>
/// Certificates as planned resources on the full lab: read-only verbs write nothing (a what-if render of a new realm
/// leaves preview clean), every certificate rotates with --replace and with a renewal window covering today while the
/// site stays healthy and nothing else changes, a kill -9 in the middle of a rotation never leaves a host with a
/// certificate and a key of different runs, and a realm change converges in one up.
/// </summary>
[Collection("full")]
public sealed class CertificateRotationSpecs(FullLab lab)
{
    private LabSite Site => lab.Site;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private string StackFile => $"stacks/Pulumi.{Site.Stack}.yaml";
    private string[] CertUrns => [.. FullLab.Pairs.Select(p => $"urn:pulumi:{Site.Stack}::nf-deploy::nfdeploy:tls:Certificate::{p.Host}:tls")];

    /// <summary>Every file of the project, .nf-deploy/ and .pulumi/ included, by relative path and SHA-256.</summary>
    /// <summary>Every file of the project, .pulumi/ and .nf-deploy/ included, but the run history: an audit log that
    /// `refresh` appends its line to (as Pulumi's history lists refreshes) and that no plan ever reads.</summary>
    private IDictionary<string, string> Snapshot() =>
        Directory.GetFiles(Site.Dir, "*", SearchOption.AllDirectories)
            .Where(f => !Path.GetRelativePath(Site.Dir, f).StartsWith(Path.Combine(".pulumi", "history"), StringComparison.Ordinal))
            .ToDictionary(f => Path.GetRelativePath(Site.Dir, f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    private static IEnumerable<JsonObject> Changes(JsonObject plan) =>
        plan["steps"]!.AsArray().Select(s => s!.AsObject()).Where(s => (string)s["op"]! != "same");

    private int ConfigSet(string key, string value) => new App(new Workspace(Site.Dir), TextWriter.Null, TextWriter.Null, 16, false).ConfigSet(Site.Stack, key, value);

    /// <summary>Per host: the certificate's fingerprint, whether it and the key are one pair, whether it verifies against the CA on the host.</summary>
    private async Task<Dictionary<string, (string Fingerprint, bool Pair, bool Verifies)>> PairsAsync()
    {
        var result = new Dictionary<string, (string, bool, bool)>();
        foreach (var (host, cert, key, ca) in FullLab.Pairs)
        {
            var o = (await lab.Sh(host, $"""
                c=$(openssl x509 -noout -pubkey -in {cert} | sha256sum); k=$(openssl pkey -pubout -in {key} | sha256sum)
                if [ "$c" = "$k" ]; then echo pair=yes; else echo pair=no; fi
                if openssl verify -CAfile {ca} {cert} >/dev/null 2>&1; then echo verifies=yes; else echo verifies=no; fi
                openssl x509 -noout -fingerprint -sha256 -in {cert}
                """)).Split('\n');
            result[host] = (o[2].Trim(), o[0] == "pair=yes", o[1] == "verifies=yes");
        }
        return result;
    }

    private static void AllHealthy(LabSite.Run up)
    {
        up.Exit.Should().Be(0, up.Out + up.Err);
        foreach (var (h, _) in FullLab.Hosts) up.Out.Should().MatchRegex($"(?m)^{h}: ok, \\d+ changed(, healthy)?$", up.Out);
        foreach (var h in new[] { "ims-1", "pcrf-1", "pcrf-2", "pgw-1", "pgw-2", "pgw-3" }) up.Out.Should().MatchRegex($"(?m)^{h}: ok, \\d+ changed, healthy$");
    }

    [Fact]
    public async Task A_what_if_render_of_a_new_realm_and_every_read_only_verb_write_nothing_and_leave_preview_clean()
    {
        lab.FirstUp.Exit.Should().Be(0, lab.FirstUp.Out + lab.FirstUp.Err);
        var original = Site.Read(StackFile);
        var outDir = Path.Combine(Path.GetTempPath(), "nfd-whatif-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            async Task ReadOnly(string verb, Func<Task<LabSite.Run>> run, int exit)
            {
                var before = Snapshot();
                var r = await run();
                r.Exit.Should().Be(exit, $"{verb}: {r.Out}{r.Err}");
                Snapshot().Should().BeEquivalentTo(before, $"{verb} is read-only");
            }
            await ReadOnly("preview", () => Site.Preview(expectNoChanges: true), 0);
            ConfigSet("realm", "other.example.net").Should().Be(ExitCodes.Ok);
            await ReadOnly("preview of a new realm", () => Site.PreviewJson(), 0);
            await ReadOnly("render", () => Site.RunAsync((a, ct) => a.RenderAsync(Site.Stack, outDir, ct)), 0);
            await ReadOnly("refresh", () => Site.Refresh(), 0);
            await ReadOnly("config", () => Site.RunAsync((a, _) => Task.FromResult(a.ConfigGet(Site.Stack, null))), 0);
            await ReadOnly("config get", () => Site.RunAsync((a, _) => Task.FromResult(a.ConfigGet(Site.Stack, "realm"))), 0);
            await ReadOnly("stack ls", () => Site.RunAsync((a, _) => a.StackListAsync(CancellationToken.None)), 0);

            // the preview of the new realm shows every certificate replaced, with the reason, and nothing was issued for good
            var whatIf = (await Site.PreviewJson()).Json;
            var certs = Changes(whatIf).Where(s => (string)s["type"]! == "nfdeploy:tls:Certificate").ToList();
            certs.Select(s => (string)s["host"]!).Should().BeEquivalentTo(FullLab.Pairs.Select(p => p.Host));
            certs.Should().AllSatisfy(s => ((string)s["op"]!).Should().Be("replace"));
            certs.Should().AllSatisfy(s => s["changes"]!.AsArray().Select(c => (string)c!["name"]!).Should().Equal("identity"));

            Site.Write(StackFile, original);
            var clean = await Site.Preview(expectNoChanges: true);
            clean.Exit.Should().Be(0, clean.Out + clean.Err);
        }
        finally
        {
            Site.Write(StackFile, original);
            if (Directory.Exists(outDir)) Directory.Delete(outDir, true);
        }
    }

    [Fact]
    public async Task Every_certificate_rotates_with_replace_and_with_a_renewal_window_covering_today_and_the_site_stays_healthy()
    {
        var original = Site.Read(StackFile);
        var ca = File.ReadAllText(Path.Combine(Site.Dir, ".nf-deploy", "pki", Site.Stack, "ca.cert.pem"));
        try
        {
            var before = await PairsAsync();
            before.Values.Should().AllSatisfy(p => (p.Pair && p.Verifies).Should().BeTrue());

            // --replace: the plan replaces each certificate and changes only what carries it (and the restarts it causes)
            var plan = (await Site.RunAsync((a, ct) => a.PreviewAsync(Site.Stack, json: true, expectNoChanges: false, showSames: false, ct, CertUrns))).Json;
            var changes = Changes(plan).ToList();
            changes.Where(s => (string)s["type"]! == "nfdeploy:tls:Certificate").Select(s => ((string)s["host"]!, (string)s["op"]!))
                .Should().BeEquivalentTo(FullLab.Pairs.Select(p => (p.Host, "replace")));
            changes.Where(s => (string)s["type"]! is not ("nfdeploy:tls:Certificate" or "nfdeploy:svc:Service"))
                .Should().AllSatisfy(s => ((string)s["name"]!).Should().MatchRegex(@"(cert|key)\.pem$"), "nothing but the certificates and keys changes");
            changes.Where(s => (string)s["type"]! == "nfdeploy:svc:Service").Should().AllSatisfy(s => ((bool)s["restart"]!).Should().BeTrue());

            var up = await Site.RunAsync((a, ct) => a.UpAsync(Site.Stack, yes: true, json: false, ct, CertUrns));
            AllHealthy(up); // the health checks' TLS probes verify each new chain against the site CA
            var replaced = await PairsAsync();
            foreach (var (host, p) in replaced)
            {
                (p.Pair && p.Verifies).Should().BeTrue($"{host} has a matching pair that verifies against the unchanged CA");
                p.Fingerprint.Should().NotBe(before[host].Fingerprint, $"{host}'s certificate was re-issued");
            }
            File.ReadAllText(Path.Combine(Site.Dir, ".nf-deploy", "pki", Site.Stack, "ca.cert.pem")).Should().Be(ca, "the CA is unchanged");
            (await Site.Preview(expectNoChanges: true)).Exit.Should().Be(0, "nothing else is left to change");

            // a renewal window that covers today renews every certificate the same way
            ConfigSet("tlsRenewDays", "900").Should().Be(ExitCodes.Ok);
            AllHealthy(await Site.Up());
            var renewed = await PairsAsync();
            foreach (var (host, p) in renewed)
            {
                (p.Pair && p.Verifies).Should().BeTrue();
                p.Fingerprint.Should().NotBe(replaced[host].Fingerprint);
            }
            Site.Write(StackFile, original);
            (await Site.Preview(expectNoChanges: true)).Exit.Should().Be(0);
        }
        finally
        {
            Site.Write(StackFile, original);
        }
    }

    [Fact]
    public async Task A_kill_9_in_the_middle_of_a_rotation_leaves_no_host_with_a_split_pair_and_the_next_up_converges()
    {
        var before = await PairsAsync();
        var args = new List<string> { "up", "--stack", Site.Stack, "--yes", "--verbose" };
        foreach (var u in CertUrns) { args.Add("--replace"); args.Add(u); }
        using (var run = new CliProcess(Site.Dir, null, [.. args]))
        {
            // in the middle: a P-GW's set (certificate, key, restarts) is on its way
            await run.WaitForLogAsync("pgw-2: ~ nfdeploy:fs:File /etc/nf-deploy/tls/pgw-2.cert.pem", TimeSpan.FromMinutes(5), Ct);
            run.KillHard();
            await run.ExitAsync(TimeSpan.FromSeconds(30), Ct);
        }
        var killed = await PairsAsync();
        foreach (var (host, p) in killed) p.Pair.Should().BeTrue($"{host}: its certificate and key are of the same run");
        killed.Count(k => k.Value.Fingerprint != before[k.Key].Fingerprint).Should().BeGreaterThan(0, "the run was killed after it had rotated something");
        (await CliProcess.RunAsync(Site.Dir, null, Ct, "cancel", "--stack", Site.Stack)).Exit.Should().Be(0);

        AllHealthy(await Site.Up());
        foreach (var (host, p) in await PairsAsync()) (p.Pair && p.Verifies).Should().BeTrue($"{host} converged on one pair");
        (await Site.Preview(expectNoChanges: true)).Exit.Should().Be(0);
    }

    [Fact]
    public async Task A_realm_change_converges_healthy_in_one_up_ims_box_included()
    {
        var original = Site.Read(StackFile);
        try
        {
            ConfigSet("realm", "core.lab.nf-deploy.test").Should().Be(ExitCodes.Ok);
            AllHealthy(await Site.Up());
            (await lab.Sh("ims-1", "openssl x509 -noout -subject -in /etc/kamailio-pcscf/tls/cert.pem")).Should().Contain("CN = ims-1.core.lab.nf-deploy.test");
            (await lab.Sh("pgw-1", "grep Identity /etc/freeDiameter/pgw.conf")).Should().Contain("pgw-1.core.lab.nf-deploy.test");
            (await Site.Preview(expectNoChanges: true)).Exit.Should().Be(0);
        }
        finally
        {
            Site.Write(StackFile, original);
            AllHealthy(await Site.Up());
        }
    }
}
