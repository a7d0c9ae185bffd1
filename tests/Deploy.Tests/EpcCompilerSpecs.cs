using System.Security.Cryptography.X509Certificates;
using AwesomeAssertions;
using Deploy.Core.Engine;
using Deploy.Core.Resources;

namespace Deploy.Tests;

/// <summary>The EPC slice compiled: P-GWs counted by a setting, a PCRF pool, Diameter peering with per-host TLS.</summary>
public sealed class EpcCompilerSpecs
{
    private static string File_(HostDesired h, string path) => h.Resources.OfType<FileSpec>().Single(f => f.Path == path).Content;

    private static void SetPgwCount(SiteFixture site, int n) =>
        site.Write("stacks/Pulumi.lab.yaml", System.Text.RegularExpressions.Regex.Replace(site.Read("stacks/Pulumi.lab.yaml"), "pgwCount: .*", $"pgwCount: {n}"));

    [Fact]
    public async Task The_lab_has_a_pcrf_pool_of_two_and_three_pgws_each_peering_with_every_pcrf_over_tls()
    {
        using var site = SiteFixture.FromRepo();
        var hosts = await site.RenderAsync();

        hosts.Keys.Where(k => k.StartsWith("pgw-", StringComparison.Ordinal)).Should().BeEquivalentTo("pgw-1", "pgw-2", "pgw-3");
        var pgw2 = File_(hosts["pgw-2"], "/etc/freeDiameter/pgw.conf");
        pgw2.Should().Contain("Identity = \"pgw-2.lab.nf-deploy.test\";\nRealm = \"lab.nf-deploy.test\";\nListenOn = \"10.211.0.42\";")
            .And.Contain("TLS_Cred = \"/etc/nf-deploy/tls/pgw-2.cert.pem\", \"/etc/nf-deploy/tls/pgw-2.key.pem\";")
            .And.Contain("ConnectPeer = \"pcrf-1.lab.nf-deploy.test\" { ConnectTo = \"10.211.0.31\"; };")
            .And.Contain("ConnectPeer = \"pcrf-2.lab.nf-deploy.test\" { ConnectTo = \"10.211.0.32\"; };")
            .And.NotContain("No_TLS");
        var pcrf1 = File_(hosts["pcrf-1"], "/etc/freeDiameter/pcrf.conf");
        foreach (var i in new[] { 1, 2, 3 })
            pcrf1.Should().Contain($"ConnectPeer = \"pgw-{i}.lab.nf-deploy.test\" {{ ConnectTo = \"10.211.0.4{i}\"; }};");
    }

    [Fact]
    public async Task The_pgw_config_fills_the_gtp_addresses_ue_pool_and_dns_from_the_host_and_the_stack()
    {
        using var site = SiteFixture.FromRepo();
        var hosts = await site.RenderAsync();
        var yaml = File_(hosts["pgw-1"], "/etc/open5gs/pgw.yaml");
        yaml.Should().Contain("""
            pgw:
                freeDiameter: /etc/freeDiameter/pgw.conf
                gtpc:
                  - addr: 10.211.0.41
                gtpu:
                  - addr: 10.211.0.41
                pdn:
                  - addr: 10.45.0.1/16
                  - addr: cafe::1/64
                dns:
                  - 10.211.0.1
                mtu: 1400
            """.Replace("\r", "")).And.NotContain("p-cscf").And.NotContain("ue_pool");
        var pgw = hosts["pgw-1"].Resources;
        pgw.OfType<PackageSpec>().Select(p => p.Package).Should().Equal("freediameterd", "freediameter-extensions", "open5gs-pgw");
        pgw.OfType<ServiceSpec>().Select(s => s.Service).Should().Equal("freediameter", "open5gs-pgwd");
        pgw.OfType<FileSpec>().Single(f => f.Path == "/etc/freeDiameter/pgw.conf").Notify.Should().Contain("open5gs-pgwd");
    }

    [Theory]
    [InlineData("1.2", "ue_pool:")]
    [InlineData("1.3", "pdn:")]
    public async Task The_ue_pool_key_follows_the_open5gs_version(string version, string key)
    {
        using var site = SiteFixture.FromRepo();
        site.Write("stacks/Pulumi.lab.yaml", site.Read("stacks/Pulumi.lab.yaml").Replace("open5gsVersion: \"1.3\"", $"open5gsVersion: \"{version}\""));
        var yaml = File_((await site.RenderAsync())["pgw-3"], "/etc/open5gs/pgw.yaml");
        yaml.Should().Contain("\n    " + key + "\n      - addr: 10.45.0.1/16");
    }

    [Fact]
    public async Task Open5gs_2_renders_smf_yaml_and_installs_smf_and_upf()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("stacks/Pulumi.lab.yaml", site.Read("stacks/Pulumi.lab.yaml").Replace("open5gsVersion: \"1.3\"", "open5gsVersion: \"2.6\""));
        var pgw = (await site.RenderAsync())["pgw-2"];
        pgw.Resources.OfType<PackageSpec>().Select(p => p.Package).Should().Contain(["open5gs-smf", "open5gs-upf"]).And.NotContain("open5gs-pgw");
        File_(pgw, "/etc/open5gs/smf.yaml").Should().Contain("smf:\n    freeDiameter: /etc/freeDiameter/pgw.conf\n    pfcp:\n      - addr: 10.211.0.42");
        pgw.Resources.OfType<FileSpec>().Should().NotContain(f => f.Path == "/etc/open5gs/pgw.yaml");
        pgw.Resources.OfType<ServiceSpec>().Select(s => s.Service).Should().Contain(["open5gs-smfd", "open5gs-upfd"]);
    }

    [Fact]
    public async Task Pcscf_addresses_come_from_the_sites_pcscf_hosts_or_else_from_the_stack()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("stacks/Pulumi.lab.yaml", site.Read("stacks/Pulumi.lab.yaml") + "  nf-deploy:pcscfAddresses: [192.0.2.10, 2001:db8::10]\n");
        File_((await site.RenderAsync())["pgw-1"], "/etc/open5gs/pgw.yaml").Should().Contain("    p-cscf:\n      - 192.0.2.10\n      - 2001:db8::10\n");

        site.Write("inventory/lab.yaml", site.Read("inventory/lab.yaml").Replace("  pcrf:\n", "  pcscf:\n    hosts: [kamailio-1, kamailio-2]\n  pcrf:\n"));
        File_((await site.RenderAsync())["pgw-1"], "/etc/open5gs/pgw.yaml").Should().Contain("    p-cscf:\n      - 10.211.0.11\n      - 10.211.0.12\n");
    }

    [Theory]
    [InlineData(5)]
    [InlineData(2)]
    public async Task Pgw_count_decides_the_pgw_hosts_and_every_pcrf_peers_with_all_of_them(int count)
    {
        using var site = SiteFixture.FromRepo();
        SetPgwCount(site, count);
        var hosts = await site.RenderAsync();
        hosts.Keys.Count(k => k.StartsWith("pgw-", StringComparison.Ordinal)).Should().Be(count);
        foreach (var pcrf in new[] { "pcrf-1", "pcrf-2" })
            File_(hosts[pcrf], "/etc/freeDiameter/pcrf.conf").Split('\n').Count(l => l.StartsWith("ConnectPeer", StringComparison.Ordinal)).Should().Be(count);
    }

    [Fact]
    public async Task No_tls_peers_when_the_stack_says_so()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("stacks/Pulumi.lab.yaml", site.Read("stacks/Pulumi.lab.yaml").Replace("diameterTls: true", "diameterTls: false"));
        File_((await site.RenderAsync())["pgw-1"], "/etc/freeDiameter/pgw.conf")
            .Should().Contain("ConnectPeer = \"pcrf-1.lab.nf-deploy.test\" { ConnectTo = \"10.211.0.31\"; No_TLS; };");
    }

    [Fact]
    public async Task Each_host_gets_a_certificate_from_the_site_ca_for_its_identity_and_address_kept_across_runs()
    {
        using var site = SiteFixture.FromRepo();
        var first = await site.RenderAsync();
        var certPem = File_(first["pgw-1"], "/etc/nf-deploy/tls/pgw-1.cert.pem");
        var key = first["pgw-1"].Resources.OfType<FileSpec>().Single(f => f.Path == "/etc/nf-deploy/tls/pgw-1.key.pem");
        key.Secret.Should().BeTrue();
        key.Mode.Should().Be("0600");
        key.Content.Should().StartWith("-----BEGIN PRIVATE KEY-----");

        using var cert = X509Certificate2.CreateFromPem(certPem);
        using var ca = X509Certificate2.CreateFromPem(File_(first["pgw-1"], "/etc/nf-deploy/tls/ca.cert.pem"));
        cert.GetNameInfo(X509NameType.SimpleName, false).Should().Be("pgw-1.lab.nf-deploy.test");
        cert.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single().EnumerateIPAddresses().Select(a => a.ToString()).Should().Equal("10.211.0.41");
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.Build(cert).Should().BeTrue("the host certificate chains to the site CA");
        Directory.Exists(Path.Combine(site.Dir, ".nf-deploy", "pki")).Should().BeFalse("rendering writes nothing: up keeps the certificates");
        foreach (var c in first.Values.SelectMany(h => h.Resources.OfType<CertificateSpec>()))
            await c.Issue!.CommitAsync(CancellationToken.None); // what up does
        new FileInfo(Path.Combine(site.Dir, ".nf-deploy", "pki", "lab", "pgw-1.key.pem")).UnixFileMode.Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var second = await site.RenderAsync();
        File_(second["pgw-1"], "/etc/nf-deploy/tls/pgw-1.cert.pem").Should().Be(certPem, "a certificate is not re-issued on every run");
    }

    [Fact]
    public async Task A_new_realm_reissues_every_certificate_and_rewrites_every_identity()
    {
        using var site = SiteFixture.FromRepo();
        var before = await site.RenderAsync();
        site.Write("stacks/Pulumi.lab.yaml", site.Read("stacks/Pulumi.lab.yaml").Replace("nf-deploy:realm: lab.nf-deploy.test", "nf-deploy:realm: epc.lab.nf-deploy.test"));
        var after = await site.RenderAsync();
        foreach (var h in new[] { "pcrf-1", "pcrf-2", "pgw-1", "pgw-2", "pgw-3" })
        {
            var path = $"/etc/nf-deploy/tls/{h}.cert.pem";
            File_(after[h], path).Should().NotBe(File_(before[h], path));
            using var cert = X509Certificate2.CreateFromPem(File_(after[h], path));
            cert.GetNameInfo(X509NameType.SimpleName, false).Should().Be($"{h}.epc.lab.nf-deploy.test");
        }
        File_(after["pgw-1"], "/etc/freeDiameter/pgw.conf").Should().Contain("Identity = \"pgw-1.epc.lab.nf-deploy.test\";")
            .And.Contain("ConnectPeer = \"pcrf-2.epc.lab.nf-deploy.test\"");
    }

    // ---- bad input: a clear error before any host is touched

    private static async Task<string> ErrorOf(SiteFixture site)
    {
        var act = () => site.RenderAsync();
        return (await act.Should().ThrowAsync<Deploy.Core.Model.DeployException>()).Which.Message;
    }

    [Fact]
    public async Task A_realm_that_is_not_an_fqdn_is_refused()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("stacks/Pulumi.lab.yaml", site.Read("stacks/Pulumi.lab.yaml").Replace("nf-deploy:realm: lab.nf-deploy.test", "nf-deploy:realm: \"lab_realm\""));
        (await ErrorOf(site)).Should().Contain("nf/freediameter/nf.yaml:").And.Contain("realm 'lab_realm' is not a valid FQDN").And.Contain("(rendering for host pcrf-1)");
    }

    [Fact]
    public async Task Pgws_without_any_pcrf_are_refused()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("inventory/lab.yaml", site.Read("inventory/lab.yaml").Replace("    hosts: [pcrf-1, pcrf-2]\n", "    hosts: []\n"));
        (await ErrorOf(site)).Should().Contain("pgw-1 needs Diameter peers but group 'pcrf' has no hosts (P-GWs need at least one PCRF)");
    }

    [Fact]
    public async Task A_user_certificate_for_another_identity_is_refused()
    {
        using var site = SiteFixture.FromRepo();
        var (cert, key) = SelfSigned("someone-else.lab.nf-deploy.test");
        site.Write("certs/pgw-1.cert.pem", cert).Write("certs/pgw-1.key.pem", key);
        site.Write("inventory/lab.yaml", site.Read("inventory/lab.yaml").Replace("  pcrf-1: { address: 10.211.0.31, lab: true }",
            "  pcrf-1: { address: 10.211.0.31, lab: true, vars: { tls_cert_file: certs/pgw-1.cert.pem, tls_key_file: certs/pgw-1.key.pem } }"));
        (await ErrorOf(site)).Should().Contain("host pcrf-1: the certificate certs/pgw-1.cert.pem is for 'someone-else.lab.nf-deploy.test', but the host's Diameter identity is 'pcrf-1.lab.nf-deploy.test'");
    }

    [Fact]
    public async Task A_user_certificate_that_matches_is_used_as_given()
    {
        using var site = SiteFixture.FromRepo();
        var (cert, key) = SelfSigned("pcrf-1.lab.nf-deploy.test");
        site.Write("certs/pcrf-1.cert.pem", cert).Write("certs/pcrf-1.key.pem", key);
        site.Write("inventory/lab.yaml", site.Read("inventory/lab.yaml").Replace("  pcrf-1: { address: 10.211.0.31, lab: true }",
            "  pcrf-1: { address: 10.211.0.31, lab: true, vars: { tls_cert_file: certs/pcrf-1.cert.pem, tls_key_file: certs/pcrf-1.key.pem } }"));
        File_((await site.RenderAsync())["pcrf-1"], "/etc/nf-deploy/tls/pcrf-1.cert.pem").Should().Be(cert);
    }

    [Fact]
    public async Task An_unreadable_key_file_is_refused()
    {
        using var site = SiteFixture.FromRepo();
        var (cert, _) = SelfSigned("pcrf-1.lab.nf-deploy.test");
        site.Write("certs/pcrf-1.cert.pem", cert);
        site.Write("inventory/lab.yaml", site.Read("inventory/lab.yaml").Replace("  pcrf-1: { address: 10.211.0.31, lab: true }",
            "  pcrf-1: { address: 10.211.0.31, lab: true, vars: { tls_cert_file: certs/pcrf-1.cert.pem, tls_key_file: certs/missing.key.pem } }"));
        (await ErrorOf(site)).Should().Contain("host pcrf-1: cannot read private key").And.Contain("certs/missing.key.pem");
    }

    [Fact]
    public async Task A_negative_pgw_count_is_refused()
    {
        using var site = SiteFixture.FromRepo();
        SetPgwCount(site, -1);
        (await ErrorOf(site)).Should().Contain("inventory/lab.yaml:").And.Contain("group 'pgw': count (pgwCount) is -1; it must be 0 or more");
    }

    [Fact]
    public async Task More_pgws_than_the_inventory_has_machines_for_is_refused()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("inventory/prod-example.yaml", site.Read("inventory/prod-example.yaml") + """
              pgw:
                count: pgwCount
                hosts: [sip-a, sip-b]
                roles: []
            """);
        site.Write("stacks/Pulumi.prod-example.yaml", site.Read("stacks/Pulumi.prod-example.yaml").Replace("pgwCount: 2", "pgwCount: 3"));
        var act = () => site.RenderAsync("prod-example");
        (await act.Should().ThrowAsync<Deploy.Core.Model.DeployException>()).Which.Message.Should()
            .Contain("group 'pgw': pgwCount is 3 but the group lists only 2 machines (sip-a, sip-b); add machines or lower pgwCount");
    }

    private static (string Cert, string Key) SelfSigned(string cn)
    {
        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        var req = new CertificateRequest($"CN={cn}", rsa, System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
        using var c = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(100));
        return (c.ExportCertificatePem() + "\n", rsa.ExportPkcs8PrivateKeyPem() + "\n");
    }
}
