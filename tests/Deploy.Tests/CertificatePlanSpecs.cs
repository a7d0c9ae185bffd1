using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AwesomeAssertions;
using Deploy.Core.Engine;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Resources;
using Deploy.Site.Compile;
using Deploy.Site.Pki;

namespace Deploy.Tests;

/// <summary>
/// Certificates as resources of the plan (Pulumi's tls provider: PrivateKey + LocallySignedCert): rendering reads the
/// controller's PKI directory and never writes it; a host's certificate is created, kept, or replaced with its reason;
/// only committing (what up does) writes it down.
/// </summary>
public sealed class CertificatePlanSpecs
{
    private static readonly CertificateProvider Provider = new();
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed class Clock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private static async Task<(SiteProgram Site, ImmutableDictionary<string, HostDesired> Hosts)> RenderAsync(SiteFixture site, TimeProvider? time = null, params string[] replace)
    {
        var program = await SiteLoader.LoadAsync(site.Dir, "lab", new NoKeys(), (_, _) => Task.FromResult("ssh-ed25519 AAAATEST lab"), Ct, () => SiteFixture.LabPassphrase, time: time);
        program.Replace(replace);
        var facts = program.Hosts.ToDictionary(h => h.Name, h => h.FactsOrAssumed());
        return (program, program.Materialize(facts, Ct).ToImmutableDictionary(d => d.Host));
    }

    private sealed class NoKeys : IKeyFetcher
    {
        public Task<string> FetchAsync(string url, Action<string> verify, CancellationToken ct) => Task.FromResult("-----BEGIN PGP PUBLIC KEY BLOCK-----\nx\n-----END PGP PUBLIC KEY BLOCK-----\n");
    }

    /// <summary>The plan's step for a certificate, as the engine makes it: live state from the controller, pure diff.</summary>
    private static ResourceDiff Plan(CertificateSpec c) => Provider.Diff(c, Provider.Parse(c, new Dictionary<string, string>(), HostFacts.Assumed(c.Host, "10.0.0.1")));

    private static CertificateSpec Cert(ImmutableDictionary<string, HostDesired> hosts, string host) => hosts[host].Resources.OfType<CertificateSpec>().Single();

    private static string File_(ImmutableDictionary<string, HostDesired> hosts, string host, string path) =>
        hosts[host].Resources.OfType<FileSpec>().Single(f => f.Path == path).Content;

    private static async Task CommitAsync(ImmutableDictionary<string, HostDesired> hosts, SiteProgram site)
    {
        foreach (var c in hosts.Values.SelectMany(h => h.Resources.OfType<CertificateSpec>()).Where(c => c.Issue is not null))
            await c.Issue!.CommitAsync(Ct);
        await site.CommitControllerAsync(Ct);
    }

    private static IDictionary<string, string> Snapshot(string dir) =>
        Directory.GetFiles(dir, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(dir, f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    [Fact]
    public async Task A_new_host_s_certificate_is_planned_as_create_and_rendering_writes_nothing()
    {
        using var site = SiteFixture.FromRepo();
        var before = Snapshot(site.Dir);
        var (_, hosts) = await RenderAsync(site);

        var pgw1 = Cert(hosts, "pgw-1");
        var plan = Plan(pgw1);
        plan.Op.Should().Be(StepOp.Create);
        plan.Changes.Should().ContainSingle().Which.Should().Be(new PropertyChange("certificate", null, "pgw-1.lab.nf-deploy.test"));
        hosts["pgw-1"].Resources[1].Should().BeSameAs(pgw1, "the certificate comes before the files that carry it");
        pgw1.Urn("lab").Should().Be("urn:pulumi:lab::nf-deploy::nfdeploy:tls:Certificate::pgw-1:tls");
        Snapshot(site.Dir).Should().BeEquivalentTo(before, "rendering writes no CA, no certificate, no key");
        Directory.Exists(Path.Combine(site.Dir, ".nf-deploy")).Should().BeFalse();
    }

    [Fact]
    public async Task An_unchanged_host_keeps_its_certificate_and_its_plan_is_same()
    {
        using var site = SiteFixture.FromRepo();
        var (program, first) = await RenderAsync(site);
        await CommitAsync(first, program);
        var pki = Snapshot(Path.Combine(site.Dir, ".nf-deploy", "pki", "lab"));

        var (_, second) = await RenderAsync(site);
        foreach (var host in new[] { "pcrf-1", "pgw-1", "ims-1" })
        {
            var c = Cert(second, host);
            Plan(c).Should().Be(ResourceDiff.Same, $"{host}'s kept certificate still fits");
            c.Issue.Should().BeNull();
        }
        File_(second, "pgw-1", "/etc/nf-deploy/tls/pgw-1.cert.pem").Should().Be(File_(first, "pgw-1", "/etc/nf-deploy/tls/pgw-1.cert.pem"));
        File_(second, "pgw-1", "/etc/nf-deploy/tls/pgw-1.key.pem").Should().Be(File_(first, "pgw-1", "/etc/nf-deploy/tls/pgw-1.key.pem"));
        Snapshot(Path.Combine(site.Dir, ".nf-deploy", "pki", "lab")).Should().BeEquivalentTo(pki);
    }

    [Fact]
    public async Task A_changed_identity_replaces_the_certificate_with_the_reason_and_writes_nothing_until_committed()
    {
        using var site = SiteFixture.FromRepo();
        var (program, first) = await RenderAsync(site);
        await CommitAsync(first, program);
        var before = Snapshot(site.Dir);
        site.Edit("stacks/Pulumi.lab.yaml", "nf-deploy:realm: lab.nf-deploy.test", "nf-deploy:realm: other.example.net");
        var edited = Snapshot(site.Dir);

        var (_, after) = await RenderAsync(site);
        var plan = Plan(Cert(after, "pgw-1"));
        plan.Op.Should().Be(StepOp.Replace);
        plan.Changes.Should().Equal(new PropertyChange("identity", "pgw-1.lab.nf-deploy.test", "pgw-1.other.example.net"));
        using var cert = X509Certificate2.CreateFromPem(File_(after, "pgw-1", "/etc/nf-deploy/tls/pgw-1.cert.pem"));
        cert.GetNameInfo(X509NameType.SimpleName, false).Should().Be("pgw-1.other.example.net", "the plan carries the new certificate (issued in memory)");
        Snapshot(site.Dir).Should().BeEquivalentTo(edited, "nothing is written before up");
        before.Should().NotBeEquivalentTo(edited);
    }

    [Fact]
    public async Task Changed_addresses_replace_the_certificate_with_the_reason()
    {
        using var site = SiteFixture.FromRepo();
        var (program, first) = await RenderAsync(site);
        await CommitAsync(first, program);
        site.Edit("inventory/lab.yaml", "pcrf-1: { address: 10.211.0.31", "pcrf-1: { address: 10.211.0.39");

        var (_, after) = await RenderAsync(site);
        var plan = Plan(Cert(after, "pcrf-1"));
        plan.Op.Should().Be(StepOp.Replace);
        plan.Changes.Should().Equal(new PropertyChange("addresses", "10.211.0.31", "10.211.0.39"));
        Plan(Cert(after, "pcrf-2")).Should().Be(ResourceDiff.Same);
    }

    [Fact]
    public async Task An_expiring_certificate_is_replaced_within_the_renewal_window_which_is_a_setting()
    {
        using var site = SiteFixture.FromRepo();
        var (program, first) = await RenderAsync(site);
        await CommitAsync(first, program);

        // 800 days later, 25 days are left: inside the default window of 30 days
        var (_, later) = await RenderAsync(site, new Clock(DateTimeOffset.UtcNow.AddDays(800)));
        var plan = Plan(Cert(later, "pgw-2"));
        plan.Op.Should().Be(StepOp.Replace);
        plan.Changes.Should().ContainSingle().Which.Name.Should().Be("expiry");
        plan.Changes[0].After.Should().Be("within the renewal window of 30 days (tlsRenewDays)");

        // a window that covers today renews every certificate now
        site.Append("stacks/Pulumi.lab.yaml", "  nf-deploy:tlsRenewDays: 900\n");
        var (_, now) = await RenderAsync(site);
        foreach (var host in new[] { "pcrf-1", "pgw-1", "ims-1" })
            Plan(Cert(now, host)).Changes.Select(c => c.After).Should().Equal("within the renewal window of 900 days (tlsRenewDays)");
    }

    [Fact]
    public async Task Replace_re_issues_the_named_certificate_only_and_refuses_what_is_not_a_certificate()
    {
        using var site = SiteFixture.FromRepo();
        var (program, first) = await RenderAsync(site);
        await CommitAsync(first, program);

        var (_, hosts) = await RenderAsync(site, null, "urn:pulumi:lab::nf-deploy::nfdeploy:tls:Certificate::ims-1:tls");
        var ims = Plan(Cert(hosts, "ims-1"));
        ims.Op.Should().Be(StepOp.Replace);
        ims.Changes.Should().Equal(new PropertyChange("replace", null, "requested with --replace"));
        Plan(Cert(hosts, "pgw-1")).Should().Be(ResourceDiff.Same);

        var act = () => RenderAsync(site, null, "urn:pulumi:lab::nf-deploy::nfdeploy:fs:File::ims-1:/etc/hosts");
        (await act.Should().ThrowAsync<DeployException>()).Which.Message.Should()
            .Be("--replace urn:pulumi:lab::nf-deploy::nfdeploy:fs:File::ims-1:/etc/hosts: no such certificate in stack lab; certificates are " +
                "urn:pulumi:lab::nf-deploy::nfdeploy:tls:Certificate::<host>:tls (preview --json lists every URN); only certificates can be replaced");
    }

    [Fact]
    public async Task A_kept_certificate_that_does_not_verify_against_the_site_ca_is_replaced_even_when_the_issuer_name_matches()
    {
        using var site = SiteFixture.FromRepo();
        var (program, first) = await RenderAsync(site);
        await CommitAsync(first, program);
        // another CA with the very same name signs pgw-1's certificate on disk (what 8 racing renders used to leave)
        var dir = Path.Combine(site.Dir, ".nf-deploy", "pki", "lab");
        using var impostor = CertificateMaker.NewCa("lab", DateTimeOffset.UtcNow);
        using var real = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(dir, "ca.cert.pem")));
        impostor.Subject.Should().Be(real.Subject);
        var (certPem, keyPem) = CertificateMaker.Issue(impostor, "pgw-1.lab.nf-deploy.test", ["10.211.0.41"], DateTimeOffset.UtcNow);
        File.WriteAllText(Path.Combine(dir, "pgw-1.cert.pem"), certPem);
        File.WriteAllText(Path.Combine(dir, "pgw-1.key.pem"), keyPem);

        var (_, hosts) = await RenderAsync(site);
        Plan(Cert(hosts, "pgw-1")).Changes.Should().Equal(new PropertyChange("issuer", "another CA", "the site CA"));
        using var planned = X509Certificate2.CreateFromPem(File_(hosts, "pgw-1", "/etc/nf-deploy/tls/pgw-1.cert.pem"));
        CertificateMaker.SignedBy(planned, real).Should().BeTrue();
    }

    [Fact]
    public async Task A_certificate_and_its_key_are_never_split_in_a_plan()
    {
        using var site = SiteFixture.FromRepo();
        var (program, first) = await RenderAsync(site);
        await CommitAsync(first, program);
        site.Edit("stacks/Pulumi.lab.yaml", "nf-deploy:realm: lab.nf-deploy.test", "nf-deploy:realm: other.example.net");
        var (_, hosts) = await RenderAsync(site);

        foreach (var (host, cert, key) in new[]
        {
            ("pgw-1", "/etc/nf-deploy/tls/pgw-1.cert.pem", "/etc/nf-deploy/tls/pgw-1.key.pem"),
            ("ims-1", "/etc/kamailio-pcscf/tls/cert.pem", "/etc/kamailio-pcscf/tls/key.pem"),
        })
        {
            // the pair the plan carries is one pair
            using var pair = X509Certificate2.CreateFromPem(File_(hosts, host, cert), File_(hosts, host, key));
            pair.HasPrivateKey.Should().BeTrue();
            // and its two files are written, validated and moved together (every file of the host changes here)
            var steps = hosts[host].Resources.Select(r => new PlanStep(host, r.Urn("lab"), r.Type, r.Name, StepOp.Update,
                [new PropertyChange("content", "a", "b")], r, r.Identity)).ToList();
            var sets = new Deploy.Resources.FileProvider(ResourceTypes.File).SetsOf(steps);
            var certUrn = steps.Single(s => s.Desired is FileSpec f && f.Path == cert).Urn;
            var keyUrn = steps.Single(s => s.Desired is FileSpec f && f.Path == key).Urn;
            sets[certUrn].Select(s => s.Urn).Should().Contain(keyUrn, $"{host}: {cert} and {key} change together");
        }
        // the tls.cfg and KEMI script of an instance are in the set of its kamailio.cfg
        var ims = hosts["ims-1"].Resources.Select(r => new PlanStep("ims-1", r.Urn("lab"), r.Type, r.Name, StepOp.Update, [new PropertyChange("content", "a", "b")], r, r.Identity)).ToList();
        var pcscf = new Deploy.Resources.FileProvider(ResourceTypes.File).SetsOf(ims)[ims.Single(s => s.Desired is FileSpec { Path: "/etc/kamailio-pcscf/kamailio.cfg" }).Urn].Select(s => ((FileSpec)s.Desired!).Path).ToList();
        pcscf.Should().Contain("/etc/kamailio-pcscf/tls.cfg").And.Contain("/etc/kamailio-pcscf/tls/cert.pem").And.NotContain("/etc/kamailio-scscf/kamailio.cfg");
        var scscf = new Deploy.Resources.FileProvider(ResourceTypes.File).SetsOf(ims)[ims.Single(s => s.Desired is FileSpec { Path: "/etc/kamailio-scscf/kamailio.cfg" }).Urn].Select(s => ((FileSpec)s.Desired!).Path).ToList();
        scscf.Should().Contain("/etc/kamailio-scscf/kemi.py", "the S-CSCF's KEMI script changes with its kamailio.cfg").And.NotContain("/etc/kamailio-pcscf/kamailio.cfg");
    }

    [Fact]
    public async Task Parallel_renders_of_a_new_stack_write_nothing_and_parallel_commits_leave_one_ca_and_certificates_that_verify()
    {
        using var site = SiteFixture.FromRepo();
        // 8 renders at once of a stack that has no CA yet: none writes anything
        var renders = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => RenderAsync(site), Ct)));
        Directory.Exists(Path.Combine(site.Dir, ".nf-deploy")).Should().BeFalse();

        // 8 runs committing what each planned, at once: the first makes the CA, the others are refused (their plan was
        // made against no CA), so one CA; every certificate on disk verifies against it and matches its key
        var results = await Task.WhenAll(renders.Select(r => Task.Run(async () =>
        {
            try { await CommitAsync(r.Hosts, r.Site); return null; }
            catch (DeployException e) { return e.Message; }
        }, Ct)));
        results.Count(r => r is null).Should().Be(1);
        results.Where(r => r is not null).Should().AllSatisfy(m => m.Should().Contain("was made by another run while this one planned: run the command again"));
        var dir = Path.Combine(site.Dir, ".nf-deploy", "pki", "lab");
        Directory.GetFiles(dir, "ca.*").Select(Path.GetFileName).Should().BeEquivalentTo("ca.cert.pem", "ca.key.pem");
        Directory.GetFiles(dir, "*.tmp").Should().BeEmpty();
        await VerifyAllAsync(dir);

        // then 8 runs at once that each re-issue every certificate (--replace): the pairs on disk never split
        var hosts = new[] { "pcrf-1", "pcrf-2", "pgw-1", "pgw-2", "pgw-3", "ims-1" };
        var seenSplit = 0;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            var (program, planned) = await RenderAsync(site, null, [.. hosts.Select(h => $"urn:pulumi:lab::nf-deploy::nfdeploy:tls:Certificate::{h}:tls")]);
            if (planned.Values.SelectMany(h => h.Resources.OfType<CertificateSpec>()).Any(c => c.Reasons.Any(r => r.Name is "key" or "issuer"))) Interlocked.Increment(ref seenSplit);
            await CommitAsync(planned, program);
        }, Ct)));
        seenSplit.Should().Be(0, "a reader never sees a certificate without its key");
        await VerifyAllAsync(dir);
    }

    private static Task VerifyAllAsync(string dir)
    {
        using var ca = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(dir, "ca.cert.pem")), File.ReadAllText(Path.Combine(dir, "ca.key.pem")));
        var certs = Directory.GetFiles(dir, "*.cert.pem").Where(f => !f.EndsWith("ca.cert.pem", StringComparison.Ordinal)).ToList();
        certs.Should().NotBeEmpty();
        foreach (var f in certs)
        {
            using var pair = X509Certificate2.CreateFromPem(File.ReadAllText(f), File.ReadAllText(f.Replace(".cert.pem", ".key.pem")));
            CertificateMaker.SignedBy(pair, ca).Should().BeTrue($"{Path.GetFileName(f)} verifies against the CA on disk");
        }
        return Task.CompletedTask;
    }
}
