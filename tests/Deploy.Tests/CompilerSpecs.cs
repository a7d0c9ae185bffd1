using System.Collections.Immutable;
using AwesomeAssertions;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Resources;

namespace Deploy.Tests;

/// <summary>The site compiler: site files and facts in, per-host resources out.</summary>
public sealed class CompilerSpecs
{
    [Fact]
    public async Task The_lab_site_compiles_to_the_seed_playbook_for_each_of_three_kamailio_hosts()
    {
        using var site = SiteFixture.FromRepo();
        var hosts = await site.RenderAsync();

        hosts.Keys.Where(k => k.StartsWith("kamailio", StringComparison.Ordinal)).Should().BeEquivalentTo("kamailio-1", "kamailio-2", "kamailio-3");
        var k2 = hosts["kamailio-2"].Resources;
        k2.Select(r => r.Type).Should().ContainInOrder(
            ResourceTypes.Hostname, ResourceTypes.AptKey, ResourceTypes.AptRepository, ResourceTypes.Package, ResourceTypes.File, ResourceTypes.Service);
        var repo = k2.OfType<FileSpec>().Single(f => f.Kind == ResourceTypes.AptRepository);
        repo.Content.Should().Be("deb [signed-by=/etc/apt/keyrings/kamailio.asc] http://10.211.0.1:3142/nfd-mirror/kamailio56 bookworm main\n");
        k2.OfType<PackageSpec>().Select(p => p.Package).Should().Equal("kamailio");
        var svc = k2.OfType<ServiceSpec>().Single();
        svc.Service.Should().Be("kamailio");
        svc.PidFile.Should().Be("/run/kamailio/kamailio.pid");
    }

    [Fact]
    public async Task Each_host_gets_its_own_listen_ip_and_dmq_addresses_in_kamailio_cfg()
    {
        using var site = SiteFixture.FromRepo();
        var hosts = await site.RenderAsync();

        foreach (var (name, ip) in new[] { ("kamailio-1", "10.211.0.11"), ("kamailio-2", "10.211.0.12"), ("kamailio-3", "10.211.0.13") })
        {
            var cfg = hosts[name].Resources.OfType<FileSpec>().Single(f => f.Path == "/etc/kamailio/kamailio.cfg");
            cfg.Content.Should().Contain($"listen=udp:{ip}:5060\n").And.Contain($"listen=tcp:{ip}:5060\n").And.Contain($"listen=udp:{ip}:5090\n");
            cfg.Content.Should().Contain($"modparam(\"dmq\", \"server_address\", \"sip:{ip}:5090\")");
            cfg.Content.Should().Contain("modparam(\"dmq\", \"notification_address\", \"sip:dmq-56.lab.nf-deploy.test:5090\")");
            cfg.Content.Should().Contain("dmq_handle_message();");
            cfg.Validate.Should().Be($"kamailio -c -f %s && /usr/local/lib/nf-deploy/kamailio-check %s");
            cfg.Notify.Should().Equal("kamailio");
        }
    }

    [Fact]
    public async Task The_dmq_domain_resolves_on_each_node_to_another_node_of_the_cluster()
    {
        using var site = SiteFixture.FromRepo();
        var hosts = await site.RenderAsync();

        Block(hosts["kamailio-1"]).Should().Be("10.211.0.12 dmq-56.lab.nf-deploy.test");
        Block(hosts["kamailio-2"]).Should().Be("10.211.0.11 dmq-56.lab.nf-deploy.test");
        Block(hosts["kamailio-3"]).Should().Be("10.211.0.11 dmq-56.lab.nf-deploy.test");
        static string Block(Deploy.Core.Engine.HostDesired h) =>
            h.Resources.OfType<FileSpec>().Single(f => f.Block == "kamailio dmq").Content.Trim();
    }

    [Fact]
    public async Task A_multi_homed_host_listens_on_the_interface_the_inventory_names_not_the_default_route()
    {
        using var site = SiteFixture.FromRepo();
        var hosts = await site.RenderAsync("prod-example");

        var cfg = hosts["sip-a"].Resources.OfType<FileSpec>().Single(f => f.Path == "/etc/kamailio/kamailio.cfg").Content;
        cfg.Should().Contain("listen=udp:192.0.2.21:5060").And.NotContain("10.20.0.21");
        hosts.Should().NotContainKey("bastion", "a host without roles is only a way in");
        hosts["sip-a"].Resources.OfType<FileSpec>().Should().NotContain(f => f.Path == "/etc/hosts", "real sites resolve the DMQ domain in DNS");
    }

    [Fact]
    public async Task The_kamailio_version_setting_names_the_repository_and_the_dmq_domain()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("stacks/Pulumi.lab.yaml", site.Read("stacks/Pulumi.lab.yaml").Replace("kamailioVersion: \"5.6\"", "kamailioVersion: \"5.7\""));
        var hosts = await site.RenderAsync();

        var files = hosts["kamailio-1"].Resources.OfType<FileSpec>().ToList();
        files.Single(f => f.Kind == ResourceTypes.AptRepository).Content.Should().Contain("/kamailio57 bookworm main");
        files.Single(f => f.Path == "/etc/kamailio/kamailio.cfg").Content.Should().Contain("sip:dmq-57.lab.nf-deploy.test:5090");
    }

    [Fact]
    public async Task The_repository_suite_follows_the_host_codename()
    {
        using var site = SiteFixture.FromRepo();
        var program = await site.LoadAsync();
        var facts = program.Hosts.ToDictionary(h => h.Name, h => h.AssumedFacts! with { Codename = "trixie" });
        var hosts = program.Materialize(facts, CancellationToken.None);

        hosts.SelectMany(h => h.Resources).OfType<FileSpec>().Where(f => f.Kind == ResourceTypes.AptRepository && f.Path.EndsWith("kamailio.list", StringComparison.Ordinal))
            .Should().AllSatisfy(f => f.Content.Should().EndWith("kamailio56 trixie main\n"));
    }

    [Fact]
    public async Task Lab_hosts_are_planned_as_containers_on_the_lab_network_and_one_logs_in_as_a_sudo_user()
    {
        using var site = SiteFixture.FromRepo();
        var program = await site.LoadAsync();

        program.Lab.Should().NotBeNull();
        program.Lab!.Network.Should().Be("nfd-lab");
        program.Lab.Subnet.Should().Be("10.211.0.0/24");
        program.Lab.AuthorizedKey.Should().Be("ssh-ed25519 AAAATEST lab");
        program.Hosts.Where(h => h.Name.StartsWith("kamailio", StringComparison.Ordinal)).Select(h => (h.Name, h.Lab!.Address, h.Lab.LoginUser)).Should().Equal(
            ("kamailio-1", "10.211.0.11", "root"), ("kamailio-2", "10.211.0.12", "deploy"), ("kamailio-3", "10.211.0.13", "root"));
        program.Hosts.Single(h => h.Name == "kamailio-2").Connection.NeedsSudo.Should().BeTrue();
    }

    [Fact]
    public async Task Hosts_behind_a_bastion_are_reached_through_it()
    {
        using var site = SiteFixture.FromRepo();
        var program = await site.LoadAsync("prod-example");

        var sip = program.Hosts.Single(h => h.Name == "sip-b").Connection;
        sip.Jump.Should().NotBeNull();
        sip.Jump!.Address.Should().Be("198.51.100.10");
        sip.Endpoint.User.Should().Be("deploy");
    }

    [Fact]
    public async Task The_same_facts_render_the_same_bytes()
    {
        using var site = SiteFixture.FromRepo();
        var a = await site.RenderAsync();
        var b = await site.RenderAsync();
        a["kamailio-1"].Resources.OfType<FileSpec>().Select(f => f.Sha256)
            .Should().Equal(b["kamailio-1"].Resources.OfType<FileSpec>().Select(f => f.Sha256));
    }

    [Fact]
    public async Task Each_kamailio_host_declares_its_health_checks()
    {
        using var site = SiteFixture.FromRepo();
        var hosts = await site.RenderAsync();
        var checks = hosts["kamailio-3"].Health;
        checks.Should().ContainSingle(c => c.Kind == "sip-options").Which.Args.Should()
            .BeEquivalentTo(ImmutableSortedDictionary<string, string>.Empty.Add("address", "10.211.0.13").Add("port", "5060"));
        checks.Should().ContainSingle(c => c.Kind == "command").Which.Args["command"].Should().Be("kamcmd dmq.list_nodes");
    }

    [Fact]
    public async Task A_host_whose_facts_were_not_read_is_rendered_with_the_facts_known_without_asking_it()
    {
        using var site = SiteFixture.FromRepo();
        var program = await site.LoadAsync();

        // no facts at all: ims-1 is a lab host of the systemd image, as the inventory says, not a default sysv host
        var hosts = program.Materialize(new Dictionary<string, HostFacts>(), CancellationToken.None).ToDictionary(d => d.Host);

        hosts["ims-1"].Resources.OfType<ServiceSpec>().Select(s => s.Service).Should().Contain("kamailio@pcscf");
        hosts["kamailio-3"].Resources.OfType<ServiceSpec>().Select(s => s.Service).Should().Equal("kamailio");
    }
}
