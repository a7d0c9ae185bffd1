using System.Security.Cryptography.X509Certificates;
using AwesomeAssertions;
using Deploy.Core.Engine;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Resources;

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

    private static SiteFixture WithVersion(SiteFixture site, string version)
    {
        site.Write("stacks/Pulumi.lab.yaml", site.Read("stacks/Pulumi.lab.yaml").Replace("open5gsVersion: \"2.7\"", $"open5gsVersion: \"{version}\""));
        return site;
    }

    [Fact]
    public async Task The_lab_pgw_runs_open5gs_2_7_smf_and_upf_with_gtp_pfcp_on_the_listen_ip_and_matching_ue_subnets()
    {
        using var site = SiteFixture.FromRepo();
        var hosts = await site.RenderAsync();
        var smf = File_(hosts["pgw-1"], "/etc/open5gs/smf.yaml");
        smf.Should().Contain("""
            smf:
              freeDiameter: /etc/freeDiameter/pgw.conf
              pfcp:
                server:
                  - address: 127.0.0.4
                client:
                  upf:
                    - address: 10.211.0.41
              gtpc:
                server:
                  - address: 10.211.0.41
              gtpu:
                server:
                  - address: 127.0.0.4
              session:
                - subnet: 10.45.0.0/16
                  gateway: 10.45.0.1
                - subnet: cafe::/64
                  gateway: cafe::1
              dns:
                - 10.211.0.1
              mtu: 1400
            """.Replace("\r", "")).And.Contain("logger:\n  file:\n    path: /var/log/open5gs/smf.log").And.NotContain("addr:");
        var upf = File_(hosts["pgw-1"], "/etc/open5gs/upf.yaml");
        upf.Should().Contain("""
            upf:
              pfcp:
                server:
                  - address: 10.211.0.41
              gtpu:
                server:
                  - address: 10.211.0.41
              session:
                - subnet: 10.45.0.0/16
                  gateway: 10.45.0.1
                - subnet: cafe::/64
                  gateway: cafe::1
            """.Replace("\r", ""));
        File_(hosts["pgw-1"], "/etc/default/open5gs-upfd").Should().Contain("open5gs-ogstun ogstun 10.45.0.1/16 cafe::1/64");
        var pgw = hosts["pgw-1"].Resources;
        pgw.OfType<PackageSpec>().Select(p => p.Package).Should().Equal("open5gs-smf", "open5gs-upf", "iproute2");
        pgw.OfType<ServiceSpec>().Select(s => s.Service).Should().Equal("open5gs-upfd", "open5gs-smfd");
        // the lab's P-GWs boot systemd: the packages' units run the daemons, a drop-in sets up ogstun (sysv hosts get init scripts)
        pgw.OfType<FileSpec>().Select(f => f.Path).Should().Contain("/etc/systemd/system/open5gs-upfd.service.d/nf-deploy.conf")
            .And.NotContain(["/etc/init.d/open5gs-smfd", "/etc/init.d/open5gs-upfd"]);
        pgw.OfType<FileSpec>().Single(f => f.Path == "/etc/freeDiameter/pgw.conf").Notify.Should().Contain("open5gs-smfd");
        pgw.OfType<FileSpec>().Single(f => f.Path == "/etc/open5gs/upf.yaml").Notify.Should().Equal("open5gs-upfd");
    }

    [Fact]
    public async Task On_systemd_the_upf_unit_gets_the_ogstun_set_up_as_a_drop_in_and_no_init_scripts()
    {
        using var site = SiteFixture.FromRepo();
        var program = await site.LoadAsync();
        var facts = program.Hosts.ToDictionary(h => h.Name, h => HostFacts.Assumed(h.Name, h.Connection.Endpoint.Address, init: "systemd"));
        var pgw = (await site.RenderAsync(facts: facts))["pgw-2"];
        File_(pgw, "/etc/systemd/system/open5gs-upfd.service.d/nf-deploy.conf").Should().Contain("ExecStartPre=+/usr/local/lib/nf-deploy/open5gs-ogstun ogstun 10.45.0.1/16 cafe::1/64");
        pgw.Resources.OfType<FileSpec>().Should().NotContain(f => f.Path.StartsWith("/etc/init.d/", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("1.0", "ue_pool:", "45.45.0.1/16")]
    [InlineData("1.2.1", "ue_pool:", "45.45.0.1/16")]
    [InlineData("1.2.4", "ue_pool:", "10.45.0.1/16")]
    [InlineData("1.3", "pdn:", "10.45.0.1/16")]
    public async Task The_1x_ue_pool_key_and_default_follow_the_version_and_its_packaged_ogstun(string version, string key, string pool)
    {
        using var site = WithVersion(SiteFixture.FromRepo(), version);
        var yaml = File_((await site.RenderAsync())["pgw-3"], "/etc/open5gs/pgw.yaml");
        yaml.Should().Contain("\n    " + key + "\n      - addr: " + pool);
    }

    [Fact]
    public async Task Open5gs_2_6_renders_the_2_0_layout_of_smf_yaml_and_upf_yaml()
    {
        using var site = WithVersion(SiteFixture.FromRepo(), "2.6");
        var pgw = (await site.RenderAsync())["pgw-2"];
        pgw.Resources.OfType<PackageSpec>().Select(p => p.Package).Should().Contain(["open5gs-smf", "open5gs-upf"]).And.NotContain("open5gs-pgw");
        File_(pgw, "/etc/open5gs/smf.yaml").Should().Contain("smf:\n    freeDiameter: /etc/freeDiameter/pgw.conf\n    pfcp:\n      - addr: 127.0.0.4\n    gtpc:\n      - addr: 10.211.0.42")
            .And.Contain("    subnet:\n      - addr: 10.45.0.1/16").And.Contain("upf:\n    pfcp:\n      - addr: 10.211.0.42");
        File_(pgw, "/etc/open5gs/upf.yaml").Should().Contain("upf:\n    pfcp:\n      - addr: 10.211.0.42\n    gtpu:\n      - addr: 10.211.0.42\n    subnet:\n      - addr: 10.45.0.1/16");
        pgw.Resources.OfType<FileSpec>().Should().NotContain(f => f.Path == "/etc/open5gs/pgw.yaml");
    }

    [Fact]
    public async Task The_pgw_freediameter_config_loads_the_seeds_dictionaries_without_sctp_and_its_key_is_for_group_open5gs()
    {
        using var site = SiteFixture.FromRepo();
        var hosts = await site.RenderAsync();
        var conf = File_(hosts["pgw-1"], "/etc/freeDiameter/pgw.conf");
        conf.Split('\n').Where(l => l.StartsWith("LoadExtension", StringComparison.Ordinal)).Should().Equal(
            "LoadExtension = \"dict_rfc5777.fdx\";", "LoadExtension = \"dict_mip6i.fdx\";", "LoadExtension = \"dict_nasreq.fdx\";",
            "LoadExtension = \"dict_nas_mipv6.fdx\";", "LoadExtension = \"dict_dcca.fdx\";", "LoadExtension = \"dict_dcca_3gpp.fdx\";");
        conf.Should().Contain("No_SCTP;");
        var key = hosts["pgw-1"].Resources.OfType<FileSpec>().Single(f => f.Path == "/etc/nf-deploy/tls/pgw-1.key.pem");
        (key.User, key.Group, key.Mode).Should().Be(("root", "open5gs", "0640"), "open5gs-smfd runs as open5gs and its freeDiameter reads the key");
        key.Validate.Should().Be("/usr/local/lib/nf-deploy/fd-check-open5gs key %s /etc/freeDiameter/pgw.conf open5gs-smfd");
        hosts["pgw-1"].Resources.OfType<FileSpec>().Single(f => f.Path == "/etc/freeDiameter/pgw.conf").Validate
            .Should().Be("/usr/local/lib/nf-deploy/fd-check-open5gs conf %s open5gs-smfd");
        var pcrfKey = hosts["pcrf-1"].Resources.OfType<FileSpec>().Single(f => f.Path == "/etc/nf-deploy/tls/pcrf-1.key.pem");
        (pcrfKey.Group, pcrfKey.Mode).Should().Be(("root", "0600"), "Debian's freeDiameterd runs as root");
    }

    [Fact]
    public async Task Pgw_health_proves_the_real_daemons_gtp_echo_pfcp_association_and_gx_peers_open()
    {
        using var site = SiteFixture.FromRepo();
        var health = (await site.RenderAsync())["pgw-1"].Health;
        health.Should().Contain(h => h.Kind == "gtpv2-echo" && h.Args["address"] == "10.211.0.41" && h.Args["port"] == "2123");
        health.Should().Contain(h => h.Kind == "command" && h.Args["command"] == "/usr/local/lib/nf-deploy/open5gs-pfcp-check /var/log/open5gs/smf.log 10.211.0.41");
        health.Should().Contain(h => h.Kind == "command" && h.SiteWide
            && h.Args["command"].Trim() == "/usr/local/lib/nf-deploy/fd-peers-open --open5gs /var/log/open5gs/smf.log 'pcrf-1.lab.nf-deploy.test' 'pcrf-2.lab.nf-deploy.test'");
    }

    [Fact]
    public async Task Pcscf_addresses_are_the_ims_boxs_pcscf_sip_listen_address_not_its_ssh_address()
    {
        using var site = SiteFixture.FromRepo();
        File_((await site.RenderAsync())["pgw-1"], "/etc/open5gs/smf.yaml").Should().Contain("  p-cscf:\n    - 10.211.0.21\n");

        // the P-CSCF instance listens on a second interface: that address, not ims-1's SSH address, reaches the UEs
        site.Write("roles/ims.yaml", site.Read("roles/ims.yaml").Replace("pcscf: { sip_port: 5060,", "pcscf: { listen_interface: eth1, sip_port: 5060,"));
        var program = await site.LoadAsync();
        var facts = program.Hosts.ToDictionary(h => h.Name, h => h.FactsOrAssumed());
        facts["ims-1"] = facts["ims-1"] with { Interfaces = [.. facts["ims-1"].Interfaces, new NetInterface("eth1", ["10.99.0.21"], [])] };
        File_((await site.RenderAsync(facts: facts))["pgw-1"], "/etc/open5gs/smf.yaml").Should().Contain("  p-cscf:\n    - 10.99.0.21\n").And.NotContain("10.211.0.21");
    }

    [Fact]
    public async Task Pcscf_addresses_come_from_the_stack_when_the_pcscf_group_is_empty()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("inventory/lab.yaml", site.Read("inventory/lab.yaml").Replace("pcscf_group: ims", "pcscf_group: pcscf"));
        site.Write("stacks/Pulumi.lab.yaml", site.Read("stacks/Pulumi.lab.yaml") + "  nf-deploy:pcscfAddresses: [192.0.2.10, 2001:db8::10]\n");
        File_((await site.RenderAsync())["pgw-1"], "/etc/open5gs/smf.yaml").Should().Contain("  p-cscf:\n    - 192.0.2.10\n    - 2001:db8::10\n");
    }

    [Fact]
    public async Task A_pcscf_group_host_without_a_kamailio_pcscf_is_refused()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("inventory/lab.yaml", site.Read("inventory/lab.yaml").Replace("pcscf_group: ims", "pcscf_group: trunk").Replace("  trunk:\n    hosts: [trunk-1]\n    roles: [sip-trunk]", "  trunk:\n    hosts: [trunk-1, pcrf-1]\n    roles: []"));
        (await ErrorOf(site)).Should().Contain("host(s) of group 'trunk' run no Kamailio P-CSCF");
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
    public async Task No_tls_peers_when_the_stack_says_so_and_open5gs_gets_no_tls_credentials_nor_sec_port()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("stacks/Pulumi.lab.yaml", site.Read("stacks/Pulumi.lab.yaml").Replace("diameterTls: true", "diameterTls: false"));
        var hosts = await site.RenderAsync();
        File_(hosts["pgw-1"], "/etc/freeDiameter/pgw.conf")
            .Should().Contain("ConnectPeer = \"pcrf-1.lab.nf-deploy.test\" { ConnectTo = \"10.211.0.31\"; No_TLS; };")
            .And.Contain("SecPort = 0;").And.NotContain("TLS_Cred");
        File_(hosts["pcrf-1"], "/etc/freeDiameter/pcrf.conf").Should().Contain("TLS_Cred", "Debian's freeDiameterd 1.2 refuses to start without it");
    }

    [Fact]
    public async Task Each_host_gets_a_certificate_from_the_site_ca_for_its_identity_and_address_kept_across_runs()
    {
        using var site = SiteFixture.FromRepo();
        var first = await site.RenderAsync();
        var certPem = File_(first["pgw-1"], "/etc/nf-deploy/tls/pgw-1.cert.pem");
        var key = first["pgw-1"].Resources.OfType<FileSpec>().Single(f => f.Path == "/etc/nf-deploy/tls/pgw-1.key.pem");
        key.Secret.Should().BeTrue();
        key.Mode.Should().Be("0640");
        key.Group.Should().Be("open5gs");
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

    [Fact]
    public async Task Lab_pgws_get_the_tun_device_and_net_admin_their_upf_needs_and_other_hosts_do_not()
    {
        using var site = SiteFixture.FromRepo();
        var program = await site.LoadAsync();
        var pgw = program.Hosts.Single(h => h.Name == "pgw-3").Lab!;
        pgw.Devices.Should().Equal("/dev/net/tun");
        pgw.Capabilities.Should().Equal("NET_ADMIN");
        var pcrf = program.Hosts.Single(h => h.Name == "pcrf-1").Lab!;
        pcrf.Devices.Should().BeEmpty();
        pcrf.Capabilities.Should().BeEmpty();
    }

    [Fact]
    public async Task A_lab_device_outside_the_short_list_is_refused_at_its_line()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("inventory/lab.yaml", site.Read("inventory/lab.yaml").Replace("devices: [/dev/net/tun]", "devices: [/dev/sda]"));
        var act = () => site.LoadAsync();
        (await act.Should().ThrowAsync<Deploy.Core.Model.DeployException>()).Which.Message.Should()
            .Contain("inventory/lab.yaml:").And.Contain("lab devices: '/dev/sda' is not allowed for a lab host (allowed: /dev/net/tun)");
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
        (await ErrorOf(site)).Should().Contain("host pcrf-1: the certificate certs/pgw-1.cert.pem is for 'someone-else.lab.nf-deploy.test', but the host's identity is 'pcrf-1.lab.nf-deploy.test' (identity.host of NF 'freediameter', nf/freediameter/nf.yaml:");
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
        site.Write("stacks/Pulumi.prod-example.yaml", site.Read("stacks/Pulumi.prod-example.yaml").Replace("pgwCount: 2", "pgwCount: 3"));
        var act = () => site.RenderAsync("prod-example");
        (await act.Should().ThrowAsync<Deploy.Core.Model.DeployException>()).Which.Message.Should()
            .Contain("group 'pgw': pgwCount is 3 but the group lists only 2 machines (pgw-a, pgw-b); add machines or lower pgwCount");
    }

    [Fact]
    public async Task The_prod_example_site_shows_its_epc_open5gs_2_7_pgws_and_an_open5gs_pcrf_with_its_database()
    {
        using var site = SiteFixture.FromRepo();
        var hosts = await site.RenderAsync("prod-example");
        hosts.Keys.Should().Contain(["pgw-a", "pgw-b", "pcrf-a"]);
        File_(hosts["pgw-b"], "/etc/open5gs/smf.yaml").Should().Contain("      - address: 192.0.2.42").And.Contain("    - 192.0.2.53\n    - 192.0.2.54");
        File_(hosts["pgw-b"], "/etc/apt/sources.list.d/open5gs.list").Should().Contain("home:/acetcom:/open5gs:/latest/Debian_12/");
        var pcrf = hosts["pcrf-a"];
        pcrf.Resources.OfType<PackageSpec>().Select(p => p.Package).Should().Equal("open5gs-pcrf");
        pcrf.Resources.OfType<ServiceSpec>().Select(p => p.Service).Should().Equal("open5gs-pcrfd");
        File_(pcrf, "/etc/open5gs/pcrf.yaml").Should().Contain("db_uri: mongodb://localhost/open5gs\n").And.Contain("pcrf:\n  freeDiameter: /etc/freeDiameter/pcrf.conf");
        File_(pcrf, "/etc/freeDiameter/pcrf.conf").Should().Contain("ConnectPeer = \"pgw-a.epc.operator.example\"");
        pcrf.Health.Should().Contain(h => h.Kind == "diameter").And.Contain(h => h.SiteWide && h.Args["command"].Contains("--open5gs /var/log/open5gs/pcrf.log"));
    }

    [Fact]
    public async Task A_pcrf_running_no_diameter_daemon_has_no_diameter_health_check()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("inventory/lab.yaml", site.Read("inventory/lab.yaml").Replace("vars: { listen_interface: eth0, fd_standalone: true, fd_hosts_entries: true }", "vars: { listen_interface: eth0, fd_hosts_entries: true }"));
        var pcrf = (await site.RenderAsync())["pcrf-1"];
        pcrf.Health.Should().NotContain(h => h.Kind == "diameter").And.NotContain(h => h.Kind == "command");
        pcrf.Resources.OfType<PackageSpec>().Should().BeEmpty();
    }

    private static (string Cert, string Key) SelfSigned(string cn)
    {
        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        var req = new CertificateRequest($"CN={cn}", rsa, System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
        using var c = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(100));
        return (c.ExportCertificatePem() + "\n", rsa.ExportPkcs8PrivateKeyPem() + "\n");
    }
}
