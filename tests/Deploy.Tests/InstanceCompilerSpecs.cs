using System.Collections.Immutable;
using AwesomeAssertions;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Resources;

namespace Deploy.Tests;

/// <summary>NF instances (the IMS box's P-, I- and S-CSCF): site + facts in, per-instance resources out; bad input
/// caught when the site is compiled.</summary>
public sealed class InstanceCompilerSpecs
{
    private static async Task<ImmutableArray<ResourceSpec>> ImsAsync(SiteFixture site, string init = "sysv")
    {
        var loaded = await site.LoadAsync();
        var facts = loaded.Hosts.ToDictionary(h => h.Name, h => HostFacts.Assumed(h.Name, h.Connection.Endpoint.Address, init: init));
        return loaded.Materialize(facts, CancellationToken.None).Single(d => d.Host == "ims-1").Resources;
    }

    private static async Task<string> ErrorOf(SiteFixture site)
    {
        var act = () => site.RenderAsync();
        return (await act.Should().ThrowAsync<DeployException>()).Which.Message;
    }

    private static int LineOf(SiteFixture site, string file, string text) =>
        site.Read(file).Split('\n').Select((l, i) => (l, i)).First(x => x.l.Contains(text)).i + 1;

    [Fact]
    public async Task The_ims_box_runs_p_i_and_s_cscf_each_with_its_own_defaults_file_init_script_config_runtime_dir_and_service()
    {
        using var site = SiteFixture.FromRepo();
        var r = await ImsAsync(site);

        r.OfType<ServiceSpec>().Where(s => s.Service != "mariadb" && s.Running).Select(s => (s.Service, s.PidFile)).Should().Equal(
            ("kamailio-pcscf", "/run/kamailio-pcscf/kamailio.pid"), ("kamailio-icscf", "/run/kamailio-icscf/kamailio.pid"), ("kamailio-scscf", "/run/kamailio-scscf/kamailio.pid"));
        r.OfType<PackageSpec>().Select(p => p.Package).Should().Equal("mariadb-server", "kamailio", "kamailio-tls-modules", "kamailio-utils-modules", "kamailio-mysql-modules", "kamailio-python3-modules");
        r.Select(x => x.Urn("lab")).Should().OnlyHaveUniqueItems();
        var files = r.OfType<FileSpec>().ToDictionary(f => f.Path);
        foreach (var i in new[] { "pcscf", "icscf", "scscf" })
        {
            files[$"/etc/default/kamailio-{i}"].Content.Should().Contain("RUN_KAMAILIO=yes").And.Contain($"CFGFILE=/etc/kamailio-{i}/kamailio.cfg")
                .And.Contain($"PIDFILE=/run/kamailio-{i}/kamailio.pid").And.Contain($"HOMEDIR=/run/kamailio-{i}");
            files[$"/etc/init.d/kamailio-{i}"].Content.Should().Contain("NAME=`basename \"$0\"`").And.Contain("-Y $HOMEDIR").And.Contain($"Provides:          kamailio-{i}");
            files[$"/etc/kamailio-{i}/kamailio.cfg"].Content.Should().Contain($"modparam(\"ctl\", \"binrpc\", \"unix:/run/kamailio-{i}/kamailio_ctl\")");
            files[$"/etc/kamailio-{i}/kamailio.cfg"].Notify.Should().Equal($"kamailio-{i}");
            files[$"/etc/kamailio-{i}/kamailio.cfg"].Validate.Should().Contain("/usr/local/lib/nf-deploy/kamailio-trial %s");
            r.OfType<DirectorySpec>().Should().Contain(d => d.Path == $"/run/kamailio-{i}" && d.Purge && d.User == "kamailio");
        }
        files["/etc/kamailio-pcscf/kamailio.cfg"].Content.Should().Contain("listen=udp:10.211.0.21:5060\nlisten=tcp:10.211.0.21:5060\nlisten=tls:10.211.0.21:5061\n")
            .And.Contain("enable_tls=yes").And.Contain("modparam(\"tls\", \"config\", \"/etc/kamailio-pcscf/tls.cfg\")");
        files["/etc/kamailio-icscf/kamailio.cfg"].Content.Should().Contain("listen=udp:10.211.0.21:5070\n").And.NotContain("tls")
            .And.Contain("loadmodule \"http_client.so\"").And.Contain("modparam(\"http_client\", \"httpcon\", \"hss=>http://127.0.0.1:8089/api\")");
        files["/etc/kamailio-scscf/kamailio.cfg"].Content.Should().Contain("cfgengine \"python\"").And.Contain("modparam(\"app_python3\", \"load\", \"/etc/kamailio-scscf/kemi.py\")")
            .And.NotContain("request_route");
        files["/etc/kamailio-scscf/kemi.py"].Content.Should().Contain("def ksr_request_route(self, msg):");
        files.Keys.Should().NotContain("/etc/kamailio-icscf/tls.cfg").And.NotContain("/etc/systemd/system/kamailio@.service");
    }

    [Fact]
    public async Task Tls_cfg_names_the_instances_certificate_from_the_site_ca_its_key_readable_by_kamailio_only()
    {
        using var site = SiteFixture.FromRepo();
        var files = (await ImsAsync(site)).OfType<FileSpec>().ToDictionary(f => f.Path);

        var tls = files["/etc/kamailio-pcscf/tls.cfg"];
        tls.Content.Should().Contain("[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n" +
            "certificate = /etc/kamailio-pcscf/tls/cert.pem\nprivate_key = /etc/kamailio-pcscf/tls/key.pem\nca_list = /etc/kamailio-pcscf/tls/ca.pem\n");
        tls.Content.Should().Contain("[client:default]\nmethod = TLSv1.2+\nverify_certificate = yes\nrequire_certificate = yes\n");
        tls.Validate.Should().Be("/usr/local/lib/nf-deploy/kamailio-trial '/etc/kamailio-pcscf/kamailio.cfg' '/etc/kamailio-pcscf/tls.cfg'=%s");
        files["/etc/kamailio-pcscf/tls/cert.pem"].Content.Should().StartWith("-----BEGIN CERTIFICATE-----");
        var key = files["/etc/kamailio-pcscf/tls/key.pem"];
        (key.Mode, key.Group, key.Secret).Should().Be(("0640", "kamailio", true));
    }

    [Fact]
    public async Task A_lets_encrypt_pair_on_the_host_and_tls_only_are_instance_vars()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("roles/ims.yaml", site.Read("roles/ims.yaml").Replace("transports: [udp, tcp, tls] }",
            "transports: [tls], tls_certificate: /etc/letsencrypt/live/ims.example.net/fullchain.pem, tls_private_key: /etc/letsencrypt/live/ims.example.net/privkey.pem, tls_verify_client: true }"));
        var r = await ImsAsync(site);
        var files = r.OfType<FileSpec>().ToDictionary(f => f.Path);

        files["/etc/kamailio-pcscf/tls.cfg"].Content.Should().Contain("certificate = /etc/letsencrypt/live/ims.example.net/fullchain.pem\nprivate_key = /etc/letsencrypt/live/ims.example.net/privkey.pem\n")
            .And.Contain("verify_certificate = yes\nrequire_certificate = no\n");
        var cfg = files["/etc/kamailio-pcscf/kamailio.cfg"].Content;
        cfg.Should().Contain("listen=tls:10.211.0.21:5061\n").And.NotContain("listen=udp").And.NotContain("listen=tcp");
    }

    [Fact]
    public async Task On_systemd_each_instance_is_an_instance_of_the_kamailio_template_unit()
    {
        using var site = SiteFixture.FromRepo();
        var r = await ImsAsync(site, init: "systemd");

        r.OfType<ServiceSpec>().Where(s => s.Service != "mariadb" && s.Running).Select(s => s.Service).Should().Equal("kamailio@pcscf", "kamailio@icscf", "kamailio@scscf");
        // Debian's own kamailio.service would bind 5060 on every address: stopped and disabled, once, before the instances
        var stock = r.OfType<ServiceSpec>().Single(s => s.Service == "kamailio");
        (stock.Running, stock.Enabled, stock.Package).Should().Be((false, false, "kamailio"));
        r.IndexOf(stock).Should().BeLessThan(r.IndexOf(r.OfType<ServiceSpec>().Single(s => s.Service == "kamailio@pcscf")));
        var unit = r.OfType<FileSpec>().Single(f => f.Path == "/etc/systemd/system/kamailio@.service").Content;
        unit.Should().Contain("EnvironmentFile=-/etc/default/kamailio-%i").And.Contain("-Y /run/kamailio-%i").And.Contain("RuntimeDirectory=kamailio-%i")
            .And.Contain("PIDFile=/run/kamailio-%i/kamailio.pid");
        r.OfType<FileSpec>().Should().NotContain(f => f.Path.StartsWith("/etc/init.d/", StringComparison.Ordinal));
        r.OfType<DirectorySpec>().Should().NotContain(d => d.Path.StartsWith("/run/", StringComparison.Ordinal), "systemd makes and removes RuntimeDirectory");
        r.OfType<FileSpec>().Single(f => f.Path == "/etc/kamailio-icscf/kamailio.cfg").Notify.Should().Equal("kamailio@icscf");
    }

    [Fact]
    public async Task A_fourth_instance_is_a_config_change_in_the_inventory()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("inventory/lab.yaml", site.Read("inventory/lab.yaml").Replace("roles: [ims]\n    vars: { listen_interface: eth0 }\n",
            "roles: [ims]\n    vars:\n      listen_interface: eth0\n      cscf_instances:\n        pcscf: { sip_port: 5060 }\n        icscf: { sip_port: 5070 }\n        scscf: { sip_port: 5080 }\n        ecscf: { sip_port: 5090, children: 1 }\n", StringComparison.Ordinal));
        var r = await ImsAsync(site);

        r.OfType<ServiceSpec>().Where(s => s.Service != "mariadb" && s.Running).Select(s => s.Service).Should().Equal("kamailio-pcscf", "kamailio-icscf", "kamailio-scscf", "kamailio-ecscf");
        r.OfType<FileSpec>().Single(f => f.Path == "/etc/kamailio-ecscf/kamailio.cfg").Content.Should().Contain("children=1\n").And.Contain("listen=udp:10.211.0.21:5090");
    }

    [Fact]
    public async Task Two_instances_on_one_port_are_refused_naming_where_the_instances_are_declared()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("roles/ims.yaml", site.Read("roles/ims.yaml").Replace("icscf: { sip_port: 5070,", "icscf: { sip_port: 5060,"));
        var msg = await ErrorOf(site);

        var port = LineOf(site, "nf/kamailio-instance/nf.yaml", "proto: udp");
        msg.Should().Contain($"nf/kamailio-instance/nf.yaml:{port}: udp 10.211.0.21:5060 of instance 'icscf' of NF 'kamailio-instance' clashes with udp 10.211.0.21:5060 of instance 'pcscf' of NF 'kamailio-instance'")
            .And.Contain($"icscf at roles/ims.yaml:{LineOf(site, "roles/ims.yaml", "icscf:")}")
            .And.Contain($"pcscf at roles/ims.yaml:{LineOf(site, "roles/ims.yaml", "pcscf:")}")
            .And.Contain("(rendering for host ims-1)");
    }

    [Fact]
    public async Task Two_instances_on_one_control_socket_are_refused()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("roles/ims.yaml", site.Read("roles/ims.yaml")
            .Replace("icscf: { sip_port: 5070,", "icscf: { sip_port: 5070, ctl_socket: /run/kamailio/kamailio_ctl,")
            .Replace("scscf: { sip_port: 5080,", "scscf: { sip_port: 5080, ctl_socket: /run/kamailio/kamailio_ctl,"));
        var msg = await ErrorOf(site);

        msg.Should().Contain("unix socket /run/kamailio/kamailio_ctl of instance 'scscf' of NF 'kamailio-instance' clashes with unix socket /run/kamailio/kamailio_ctl of instance 'icscf'");
    }

    [Fact]
    public async Task An_instance_name_that_is_not_a_service_name_is_refused_at_its_line()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("roles/ims.yaml", site.Read("roles/ims.yaml").Replace("    scscf: {", "    s/cscf: {"));
        var msg = await ErrorOf(site);

        msg.Should().Be($"roles/ims.yaml:{LineOf(site, "roles/ims.yaml", "s/cscf:")}: instance name 's/cscf' of NF 'kamailio-instance' is not a valid service name " +
            "(letters, digits, '-' and '_', starting with a letter or digit, at most 48) (rendering for host ims-1)");
    }

    [Fact]
    public async Task A_kemi_script_that_does_not_compile_is_refused_before_any_host_is_touched()
    {
        using var site = SiteFixture.FromRepo();
        var path = "templates/kamailio/instance/kemi.py.sbn";
        site.Write(path, site.Read(path).Replace("def ksr_request_route(self, msg):", "def ksr_request_route(self, msg)"));
        var msg = await ErrorOf(site);

        msg.Should().StartWith($"{path}:{LineOf(site, path, "def ksr_request_route")}: /etc/kamailio-scscf/kemi.py of instance 'scscf' of NF 'kamailio-instance' does not compile with python3: ")
            .And.Contain("def ksr_request_route(self, msg)")
            .And.Contain($"declared at nf/kamailio-instance/nf.yaml:{LineOf(site, "nf/kamailio-instance/nf.yaml", "path: \"{{ nf.etc }}/kemi.py\"")}");
    }

    [Fact]
    public async Task Resources_shared_by_instances_are_declared_once()
    {
        using var site = SiteFixture.FromRepo();
        var r = await ImsAsync(site);

        r.OfType<FileSpec>().Count(f => f.Path == "/usr/local/lib/nf-deploy/kamailio-trial").Should().Be(1);
        r.OfType<FileSpec>().Count(f => f.Kind == ResourceTypes.AptRepository).Should().Be(1);
    }
}
