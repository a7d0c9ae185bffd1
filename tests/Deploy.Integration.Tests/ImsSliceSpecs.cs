using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using AwesomeAssertions;
using Deploy.Resources.Health;

namespace Deploy.Integration.Tests;

/// <summary>The lab's IMS box alone (host ims-1, role ims), on its own network, subnet and stack: rolled out once and
/// shared by the IMS specs, destroyed at the end.</summary>
public sealed class ImsLab() : RolledOutSite(new LabSite(network: "nfd-ims", subnetPrefix: "10.215.0", stack: "ims", groups: ["ims", "trunk"]))
{
    public string Ip => Site.SubnetPrefix + ".21";

    public Task<string> Sh(string script) => ShOk(script);

    private async Task<string> ShOk(string script)
    {
        var r = await Site.ShAtAsync("ims-1", Ip, script);
        if (!r.Ok) throw new InvalidOperationException($"ims-1: `{script}` failed ({r.ExitCode}): {r.Stderr}");
        return r.Stdout;
    }
}

[CollectionDefinition("ims")]
public sealed class ImsCollection : ICollectionFixture<ImsLab>;

/// <summary>The IMS slice: P-, I- and S-CSCF as Kamailio instances side by side on one lab host.</summary>
[Collection("ims")]
public sealed class ImsSliceSpecs(ImsLab lab)
{
    private static readonly string[] Cscfs = ["pcscf", "icscf", "scscf"];
    private LabSite Site => lab.Site;
    private IPAddress Ip => IPAddress.Parse(lab.Ip);
    private string SiteCa => Path.Combine(Site.Dir, ".nf-deploy", "pki", Site.Stack, "ca.cert.pem");
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<Dictionary<string, string>> PidsAsync(params string[] instances) =>
        (await Task.WhenAll(instances.Select(async i => (i, (await lab.Sh($"cat /run/kamailio-{i}/kamailio.pid")).Trim()))))
            .ToDictionary(x => x.i, x => x.Item2);

    private static IEnumerable<JsonObject> Changes(JsonObject plan) =>
        plan["steps"]!.AsArray().Select(s => s!.AsObject()).Where(s => (string)s["op"]! != "same");

    [Fact]
    public async Task Up_brings_up_p_i_and_s_cscf_side_by_side_each_healthy_and_reachable_with_kamcmd()
    {
        lab.FirstUp.Exit.Should().Be(0, lab.FirstUp.Out + lab.FirstUp.Err);
        lab.FirstUp.Out.Should().Contain("ims-1: ok");

        // each instance: its own process, pid file, runtime dir and control socket
        var pids = await PidsAsync(Cscfs);
        pids.Values.Distinct().Should().HaveCount(3);
        foreach (var i in Cscfs)
        {
            var version = await lab.Sh($"kamcmd -s unix:/run/kamailio-{i}/kamailio_ctl core.version");
            version.Should().Contain("kamailio 5.6");
            // ims-1 boots systemd: each instance is kamailio@<name> of the template unit, enabled at boot
            var cfg = await lab.Sh($"kamcmd -s unix:/run/kamailio-{i}/kamailio_ctl core.info; grep CFGFILE /etc/default/kamailio-{i}; systemctl is-enabled kamailio@{i}");
            cfg.Should().Contain($"CFGFILE=/etc/kamailio-{i}/kamailio.cfg").And.EndWith("enabled\n");
        }

        // SIP OPTIONS on every listener: UDP and TCP of each, TLS of the P-CSCF
        foreach (var (i, port) in new[] { ("pcscf", 5060), ("icscf", 5070), ("scscf", 5080) })
            foreach (var transport in new[] { "udp", "tcp" })
            {
                var r = await SipOptionsProbe.ProbeAsync(Ip, port, transport, null, TimeSpan.FromSeconds(3), Ct);
                r.Status.Should().StartWith("SIP/2.0 200", $"{i} answers OPTIONS over {transport} on {port}: {r.Detail}");
            }
        (await SipOptionsProbe.ProbeAsync(Ip, 5080, "udp", null, TimeSpan.FromSeconds(3), Ct)).Status.Should().Contain("python scscf", "the S-CSCF routes in Python");

        // TLS: a client verifying against the site CA completes the handshake and gets 200 to OPTIONS
        var tls = await SipOptionsProbe.ProbeAsync(Ip, 5061, "tls", SipTls.FromFile(SiteCa, "ims-1.lab.nf-deploy.test"), TimeSpan.FromSeconds(5), Ct);
        tls.Status.Should().StartWith("SIP/2.0 200", tls.Detail);
        tls.Detail.Should().Contain("chain verified against the CA");

        // ...and one trusting another CA fails the handshake
        using var otherKey = RSA.Create(2048);
        using var otherCa = new CertificateRequest("CN=Some other CA", otherKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        var untrusted = await SipOptionsProbe.ProbeAsync(Ip, 5061, "tls", new SipTls(otherCa, null), TimeSpan.FromSeconds(5), Ct);
        untrusted.Ok.Should().BeFalse();
        untrusted.Detail.Should().Contain("does not chain to the trusted CA");

        // http_client: the I-CSCF's connection to the HSS, from config
        (await lab.Sh("kamcmd -s unix:/run/kamailio-icscf/kamailio_ctl httpclient.listcon")).Should().Contain("hss");
        (await lab.Sh("grep httpcon /etc/kamailio-icscf/kamailio.cfg")).Should().Contain("hss=>http://127.0.0.1:8089/api");

        // a second up changes nothing
        var again = await Site.PreviewJson();
        Changes(again.Json).Should().BeEmpty();
    }

    [Fact]
    public async Task Changing_one_instances_template_restarts_that_instance_only()
    {
        var before = await PidsAsync(Cscfs);
        var kemi = "templates/kamailio/instance/kemi.py.sbn";
        var original = Site.Read(kemi);
        Site.Write(kemi, original.Replace("# SIP request routing", "# SIP request routing (changed by a spec)"));
        try
        {
            var preview = await Site.PreviewJson();
            var changes = Changes(preview.Json).ToList();
            changes.Select(c => (string)c["name"]!).Should().BeEquivalentTo("/etc/kamailio-scscf/kemi.py", "kamailio@scscf");

            var up = await Site.Up();
            up.Exit.Should().Be(0, up.Out + up.Err);
            var after = await PidsAsync(Cscfs);
            after["scscf"].Should().NotBe(before["scscf"], "the S-CSCF restarted on its new script");
            after["pcscf"].Should().Be(before["pcscf"]);
            after["icscf"].Should().Be(before["icscf"]);
        }
        finally
        {
            Site.Write(kemi, original);
            (await Site.Up()).Exit.Should().Be(0);
        }
    }

    [Fact]
    public async Task A_fourth_instance_is_a_config_change_and_removing_it_removes_its_service_defaults_and_runtime_dir()
    {
        var inventory = $"inventory/{Site.Stack}.yaml";
        var original = Site.Read(inventory);
        // the group's own vars: the role's three instances and an E-CSCF
        var four = original.Replace("    roles: [ims]\n    vars: { listen_interface: eth0 }\n",
            "    roles: [ims]\n    vars:\n      listen_interface: eth0\n      cscf_instances:\n" +
            "        pcscf: { sip_port: 5060, tls_port: 5061, next_hop_port: 5080, call_test_registrar: scscf, transports: [udp, tcp, tls] }\n" +
            "        icscf: { sip_port: 5070, transports: [udp, tcp], http_connections: { hss: \"http://127.0.0.1:8089/api\" } }\n" +
            "        scscf: { sip_port: 5080, transports: [udp, tcp], kemi_template: kamailio/instance/kemi.py.sbn, uac: true, uac_timer_interval: 10, uac_retry_interval: 10 }\n" +
            "        ecscf: { sip_port: 5090, transports: [udp] }\n", StringComparison.Ordinal);
        four.Should().Contain("ecscf");
        var before = await PidsAsync(Cscfs);
        try
        {
            Site.Write(inventory, four);
            var up = await Site.Up();
            up.Exit.Should().Be(0, up.Out + up.Err);
            (await lab.Sh("kamcmd -s unix:/run/kamailio-ecscf/kamailio_ctl core.version")).Should().Contain("kamailio");
            (await SipOptionsProbe.ProbeAsync(Ip, 5090, "udp", null, TimeSpan.FromSeconds(3), Ct)).Status.Should().StartWith("SIP/2.0 200");
            (await PidsAsync(Cscfs)).Should().BeEquivalentTo(before, "adding an instance restarts no other");
        }
        finally { Site.Write(inventory, original); }

        var down = await Site.Up();
        down.Exit.Should().Be(0, down.Out + down.Err);
        var left = await lab.Sh("for p in /etc/init.d/kamailio-ecscf /etc/systemd/system/multi-user.target.wants/kamailio@ecscf.service /etc/default/kamailio-ecscf /etc/kamailio-ecscf /run/kamailio-ecscf; do [ -e $p ] && echo \"left: $p\"; done; pgrep -f kamailio-ecscf || true; echo done");
        left.Trim().Should().Be("done", "the E-CSCF's service, defaults file, config and runtime dir are gone");
        (await SipOptionsProbe.ProbeAsync(Ip, 5090, "udp", null, TimeSpan.FromSeconds(2), Ct)).Ok.Should().BeFalse();
        (await PidsAsync(Cscfs)).Should().BeEquivalentTo(before);
    }

    [Fact]
    public async Task A_tls_cfg_naming_a_missing_certificate_or_an_unknown_key_never_replaces_the_working_one()
    {
        var before = await PidsAsync(Cscfs);
        var liveTls = await lab.Sh("sha256sum /etc/kamailio-pcscf/tls.cfg");
        var role = Site.Read("roles/ims.yaml");
        var tlsTemplate = Site.Read("templates/kamailio/instance/tls.cfg.sbn");
        try
        {
            // a Let's Encrypt pair that is not on the host
            Site.Write("roles/ims.yaml", role.Replace("call_test_registrar: scscf, transports: [udp, tcp, tls] }",
                "call_test_registrar: scscf, transports: [udp, tcp, tls], tls_certificate: /etc/letsencrypt/live/ims.example/fullchain.pem, tls_private_key: /etc/letsencrypt/live/ims.example/privkey.pem }"));
            var up = await Site.Up();
            up.Exit.Should().Be(1, up.Out + up.Err);
            (up.Out + up.Err).Should().Contain("/etc/kamailio-pcscf/tls.cfg").And.Contain("fullchain.pem");
            await StillServing();
            Site.Write("roles/ims.yaml", role);

            // a key tls.cfg does not know
            Site.Write("templates/kamailio/instance/tls.cfg.sbn", tlsTemplate.Replace("[client:default]", "bogus_key = 1\n\n[client:default]"));
            up = await Site.Up();
            up.Exit.Should().Be(1, up.Out + up.Err);
            (up.Out + up.Err).Should().Contain("bogus_key");
            await StillServing();
        }
        finally
        {
            Site.Write("roles/ims.yaml", role);
            Site.Write("templates/kamailio/instance/tls.cfg.sbn", tlsTemplate);
        }
        (await Site.Up()).Exit.Should().Be(0);

        async Task StillServing()
        {
            (await lab.Sh("sha256sum /etc/kamailio-pcscf/tls.cfg")).Should().Be(liveTls, "the working tls.cfg stays");
            (await PidsAsync(Cscfs)).Should().BeEquivalentTo(before, "no instance was restarted");
            var tls = await SipOptionsProbe.ProbeAsync(Ip, 5061, "tls", SipTls.FromFile(SiteCa, null), TimeSpan.FromSeconds(5), Ct);
            tls.Status.Should().StartWith("SIP/2.0 200", tls.Detail);
        }
    }
}
