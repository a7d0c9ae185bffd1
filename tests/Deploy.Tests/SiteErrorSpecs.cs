using AwesomeAssertions;
using Deploy.Core.Model;

namespace Deploy.Tests;

/// <summary>Bad site input gets one clear error naming the file and line (and the host when rendering), before any host is contacted.</summary>
public sealed class SiteErrorSpecs
{
    private static async Task<string> ErrorOf(SiteFixture site, string stack = "lab")
    {
        var act = () => site.RenderAsync(stack);
        var e = await act.Should().ThrowAsync<DeployException>();
        return e.Which.Message;
    }

    private static int LineOf(SiteFixture site, string file, string text) =>
        site.Read(file).Split('\n').Select((l, i) => (l, i)).First(x => x.l.Contains(text)).i + 1;

    [Fact]
    public async Task Malformed_yaml_names_the_file_and_line()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("inventory/lab.yaml", site.Read("inventory/lab.yaml").Replace("kamailio-3: { address: 10.211.0.13, lab: true }", "kamailio-3: { address: 10.211.0.13, lab: true"));
        var msg = await ErrorOf(site);
        msg.Should().StartWith("inventory/lab.yaml:").And.Contain("malformed YAML");
    }

    [Fact]
    public async Task An_unknown_role_names_the_inventory_line_and_the_roles_that_exist()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("inventory/lab.yaml", site.Read("inventory/lab.yaml").Replace("roles: [sip-proxy]", "roles: [sip-proxi]"));
        var msg = await ErrorOf(site);
        msg.Should().Be($"inventory/lab.yaml:{LineOf(site, "inventory/lab.yaml", "sip-proxi")}: unknown role 'sip-proxi' (roles/: ims, pcrf, pgw, sip-proxy)");
    }

    [Fact]
    public async Task An_unknown_nf_names_the_role_file_and_line()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("roles/sip-proxy.yaml", "description: x\nnfs:\n  - kamailio\n  - kamailo\n");
        var msg = await ErrorOf(site);
        msg.Should().Be("roles/sip-proxy.yaml:4: unknown network function 'kamailo' (nf/: freediameter, kamailio, kamailio-instance, open5gs-pgw)");
    }

    [Fact]
    public async Task An_unknown_template_names_the_manifest_line_and_host()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("nf/kamailio/nf.yaml", site.Read("nf/kamailio/nf.yaml").Replace("template: kamailio/default.sbn", "template: kamailio/defaults.sbn"));
        var msg = await ErrorOf(site);
        msg.Should().Contain($"nf/kamailio/nf.yaml:{LineOf(site, "nf/kamailio/nf.yaml", "path: /etc/default/kamailio")}: template 'kamailio/defaults.sbn' not found")
            .And.Contain("(rendering for host kamailio-1)");
    }

    [Fact]
    public async Task An_undefined_template_variable_names_the_template_line_and_host()
    {
        using var site = SiteFixture.FromRepo();
        var cfg = site.Read("templates/kamailio/kamailio.cfg.sbn").Replace("children={{ vars.children }}", "children={{ vars.childs }}");
        site.Write("templates/kamailio/kamailio.cfg.sbn", cfg);
        var msg = await ErrorOf(site);
        var line = LineOf(site, "templates/kamailio/kamailio.cfg.sbn", "vars.childs");
        msg.Should().Contain($"templates/kamailio/kamailio.cfg.sbn:{line}: Cannot get member with name childs. (rendering for host kamailio-1)");
    }

    [Fact]
    public async Task A_missing_include_names_the_including_template_line()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("templates/kamailio/default.sbn", "RUN_KAMAILIO=yes\n{{ include 'kamailio/nope.sbn' }}\n");
        var msg = await ErrorOf(site);
        msg.Should().Contain("templates/kamailio/default.sbn:2: include 'kamailio/nope.sbn' not found");
    }

    [Fact]
    public async Task A_template_syntax_error_names_the_template_line()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("templates/kamailio/default.sbn", "RUN_KAMAILIO=yes\n\n{{ if vars.children }}\nx\n");
        var msg = await ErrorOf(site);
        msg.Should().StartWith("templates/kamailio/default.sbn:").And.Contain("template error").And.Contain("host kamailio-1");
    }

    [Fact]
    public async Task Two_nfs_binding_the_same_ip_and_port_on_one_host_are_refused()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("nf/sip-monitor/nf.yaml", """
            description: a second NF that wrongly takes Kamailio's SIP port
            ports:
              - { proto: udp, address: "{{ ipv4 '' }}", port: 5060 }
            """);
        site.Write("roles/sip-proxy.yaml", "nfs: [kamailio, sip-monitor]\n");
        var msg = await ErrorOf(site);
        msg.Should().Contain("nf/sip-monitor/nf.yaml:3: udp 10.211.0.11:5060 of NF 'sip-monitor' clashes with udp 10.211.0.11:5060 of NF 'kamailio' (nf/kamailio/nf.yaml:");
    }

    [Fact]
    public async Task A_host_in_two_groups_with_conflicting_vars_is_refused()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("inventory/lab.yaml", site.Read("inventory/lab.yaml") + """
              edge:
                hosts: [kamailio-2]
                vars:
                  listen_interface: eth1
            """);
        var msg = await ErrorOf(site);
        msg.Should().StartWith($"inventory/lab.yaml:{LineOf(site, "inventory/lab.yaml", "listen_interface: eth1")}: host 'kamailio-2' is in groups 'kamailio'")
            .And.Contain("and 'edge', which set 'listen_interface' differently (\"eth0\" vs \"eth1\")");
    }

    [Fact]
    public async Task A_host_var_settles_a_conflict_between_its_groups()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("inventory/lab.yaml", site.Read("inventory/lab.yaml")
            .Replace("kamailio-2: { address: 10.211.0.12, lab: true, ssh: { user: deploy } }", "kamailio-2: { address: 10.211.0.12, lab: true, ssh: { user: deploy }, vars: { listen_interface: eth0 } }")
            + "  edge:\n    hosts: [kamailio-2]\n    vars:\n      listen_interface: eth1\n");
        var hosts = await site.RenderAsync();
        hosts["kamailio-2"].Resources.Should().NotBeEmpty();
    }

    [Fact]
    public async Task A_listen_interface_the_host_lacks_is_named_with_the_interfaces_it_has()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("inventory/lab.yaml", site.Read("inventory/lab.yaml").Replace("listen_interface: eth0", "listen_interface: eth9"));
        var msg = await ErrorOf(site);
        msg.Should().Contain($"nf/kamailio/nf.yaml:{LineOf(site, "nf/kamailio/nf.yaml", "listen_ip:")}: host kamailio-1 has no IPv4 address on interface 'eth9' (interfaces: lo, eth0)");
    }

    [Fact]
    public async Task An_unknown_stack_setting_names_the_stack_file_line()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("stacks/Pulumi.lab.yaml", site.Read("stacks/Pulumi.lab.yaml") + "  nf-deploy:pgwCoutn: 4\n");
        var msg = await ErrorOf(site);
        msg.Should().StartWith($"stacks/Pulumi.lab.yaml:{LineOf(site, "stacks/Pulumi.lab.yaml", "pgwCoutn")}: unknown setting 'pgwCoutn'");
    }

    [Fact]
    public async Task A_setting_of_the_wrong_type_names_the_stack_file_line()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("stacks/Pulumi.lab.yaml", site.Read("stacks/Pulumi.lab.yaml").Replace("nf-deploy:pgwCount: 3", "nf-deploy:pgwCount: three"));
        var msg = await ErrorOf(site);
        msg.Should().Be($"stacks/Pulumi.lab.yaml:{LineOf(site, "stacks/Pulumi.lab.yaml", "pgwCount")}: 'pgwCount' must be an integer, not 'three'");
    }

    [Fact]
    public async Task An_unknown_stack_is_named_with_the_stacks_that_exist()
    {
        using var site = SiteFixture.FromRepo();
        var msg = await ErrorOf(site, "labb");
        msg.Should().Be("no stack 'labb': stacks/Pulumi.labb.yaml does not exist (stacks: lab, prod-example)");
    }

    [Fact]
    public async Task A_misspelt_key_in_an_nf_manifest_is_refused()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("nf/kamailio/nf.yaml", site.Read("nf/kamailio/nf.yaml").Replace("    notify: [kamailio]\n  - path: /etc/kamailio/kamailio.cfg", "    notfy: [kamailio]\n  - path: /etc/kamailio/kamailio.cfg"));
        var msg = await ErrorOf(site);
        msg.Should().Contain("nf/kamailio/nf.yaml:").And.Contain("unknown key 'notfy' in a file");
    }

    [Fact]
    public async Task A_file_notifying_an_undeclared_service_is_refused()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("nf/kamailio/nf.yaml", site.Read("nf/kamailio/nf.yaml").Replace("notify: [kamailio]", "notify: [kamailo]"));
        var msg = await ErrorOf(site);
        msg.Should().Contain("file notifies service 'kamailo', which no NF of the site declares under services:");
    }

    [Fact]
    public async Task Two_hosts_with_one_address_are_refused()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("inventory/lab.yaml", site.Read("inventory/lab.yaml").Replace("address: 10.211.0.13", "address: 10.211.0.12"));
        var msg = await ErrorOf(site);
        msg.Should().Contain("hosts 'kamailio-2' and 'kamailio-3' have the same address 10.211.0.12");
    }
}
