using System.Text.Json;
using AwesomeAssertions;
using Deploy.Core.Model;
using Deploy.Site.Compile;

namespace Deploy.Tests;

/// <summary>
/// A team moving from its playbooks keeps its Ansible inventory (INI or YAML, with group_vars/ and host_vars/ beside
/// it): the site's inventory says <c>ansible: &lt;path&gt;</c> and gives its groups their roles. The prod-example site
/// written as an Ansible inventory compiles to the same plan as the native one (hosts, how each is reached, bastion
/// included, and every resource); vars merge with Ansible's precedence; hostile values are refused at their file:line.
/// </summary>
[Collection(PassphraseEnvironment.Name)]
public sealed class AnsibleInventorySpecs : IDisposable
{
    private readonly SiteFixture _site = SiteFixture.FromRepo();

    public void Dispose() => _site.Dispose();

    /// <summary>The site's own inventory: the Ansible one for the hosts, nf-deploy's roles for its groups.</summary>
    private const string Native = """
        # the team's Ansible inventory holds the hosts; nf-deploy gives its groups their roles
        ansible: ANSIBLE
        groups:
          kamailio: { roles: [sip-proxy] }
          pcrf: { roles: [pcrf-open5gs] }
          pgw: { count: pgwCount, roles: [pgw] }
        """;

    /// <summary>prod-example as an INI inventory: each var set twice, the winner by Ansible's precedence.</summary>
    private const string Ini = """
        bastion ansible_host=198.51.100.10

        [kamailio]
        sip-a ansible_host=192.0.2.21
        sip-b ansible_host=192.0.2.22
        sip-c ansible_host=192.0.2.23

        [pgw]
        pgw-a ansible_host=192.0.2.41
        pgw-b ansible_host=192.0.2.42 listen_interface=ens3

        [pcrf]
        pcrf-a ansible_host=192.0.2.31

        [epc:children]
        pgw
        pcrf

        [kamailio:vars]
        listen_interface=ens3

        [all:vars]
        ansible_user=deploy
        ansible_ssh_private_key_file=~/.ssh/id_ed25519
        ansible_ssh_common_args='-o ProxyJump=198.51.100.10'
        ntp_server=192.0.2.123
        """;

    private const string Yaml = """
        all:
          vars:
            ansible_user: deploy
            ansible_ssh_private_key_file: ~/.ssh/id_ed25519
            ansible_ssh_common_args: -o ProxyJump=deploy@198.51.100.10
          hosts:
            bastion: { ansible_host: 198.51.100.10 }
          children:
            kamailio:
              hosts:
                sip-a.example.net: { ansible_host: 192.0.2.21 }
                sip-b: { ansible_host: 192.0.2.22 }
                sip-c: { ansible_host: 192.0.2.23 }
              vars: { listen_interface: ens3 }
            epc:
              children:
                pgw:
                  hosts:
                    pgw-a: { ansible_host: 192.0.2.41 }
                    pgw-b: { ansible_host: 192.0.2.42, listen_interface: ens3 }
                pcrf:
                  hosts:
                    pcrf-a: { ansible_host: 192.0.2.31 }
        """;

    private void WriteIni(string hosts = Ini)
    {
        _site.Write("inventory/prod-example.yaml", Native.Replace("ANSIBLE", "ansible/hosts"));
        _site.Write("ansible/hosts", hosts);
        // group_vars files beat the inventory file's group vars; a child group beats its parent; host_vars beat all
        _site.Write("ansible/group_vars/kamailio.yml", "listen_interface: ens4\ndmq_hosts_entry: false\n");
        _site.Write("ansible/group_vars/epc.yml", "listen_interface: ens3\n");
        _site.Write("ansible/group_vars/pgw.yml", "listen_interface: ens4\n");
        _site.Write("ansible/group_vars/pcrf.yml", "listen_interface: ens4\npcrf_db_uri: mongodb://localhost/open5gs\n");
        _site.Write("ansible/host_vars/pgw-b.yml", "listen_interface: ens4\n");
    }

    private void WriteYaml()
    {
        _site.Write("inventory/prod-example.yaml", Native.Replace("ANSIBLE", "ansible-yaml/inventory.yml"));
        _site.Write("ansible-yaml/inventory.yml", Yaml);
        // group_vars as a folder of files, read in name order
        _site.Write("ansible-yaml/group_vars/kamailio/10-net.yml", "listen_interface: ens3\n");
        _site.Write("ansible-yaml/group_vars/kamailio/20-net.yaml", "listen_interface: ens4\n");
        _site.Write("ansible-yaml/group_vars/kamailio/dmq.json", "{\"dmq_hosts_entry\": false}\n");
        _site.Write("ansible-yaml/group_vars/epc.yml", "listen_interface: ens4\n");
        _site.Write("ansible-yaml/group_vars/pcrf.yaml", "pcrf_db_uri: mongodb://localhost/open5gs\n");
        _site.Write("ansible-yaml/host_vars/pgw-b/main.yml", "listen_interface: ens4\n");
    }

    /// <summary>The plan of the prod-example stack, rendered with the facts the native inventory declares.</summary>
    private async Task<string> PlanAsync(IReadOnlyDictionary<string, HostFacts> facts)
    {
        var site = await _site.LoadAsync("prod-example");
        var desired = site.Materialize(facts, CancellationToken.None);
        return Certificates.Replace(JsonSerializer.Serialize(new
        {
            Hosts = site.Hosts.Select(h => new { h.Name, h.Connection, h.Rollout }),
            Desired = desired.Select(d => new { d.Host, Resources = d.Resources.Cast<object>(), Health = d.Health.Cast<object>() }),
        }, new JsonSerializerOptions { WriteIndented = true }), "[certificate]");
    }

    /// <summary>What differs between two loads whatever the inventory: the certificates and keys issued in memory for them.</summary>
    private static readonly System.Text.RegularExpressions.Regex Certificates = new(
        @"-----BEGIN (?<kind>[A-Z ]+)-----.*?-----END \k<kind>-----|sha256:[0-9a-f]+|""(notAfter|notBefore|Sha256)"": ""[^""]*""",
        System.Text.RegularExpressions.RegexOptions.Singleline);

    private async Task<(string Plan, IReadOnlyDictionary<string, HostFacts> Facts)> NativeAsync()
    {
        var site = await _site.LoadAsync("prod-example");
        var facts = site.Hosts.ToDictionary(h => h.Name, h => h.FactsOrAssumed());
        return (await PlanAsync(facts), facts);
    }

    [Fact]
    public async Task An_ini_inventory_with_group_vars_and_host_vars_compiles_to_the_plan_of_the_native_one()
    {
        var (native, facts) = await NativeAsync();
        WriteIni();

        var imported = await PlanAsync(facts);

        imported.Should().Be(native);
        native.Should().Contain("\"Jump\": {").And.Contain("198.51.100.10", "the bastion is in the plan");
    }

    [Fact]
    public async Task A_yaml_inventory_with_a_group_vars_folder_compiles_to_the_plan_of_the_native_one()
    {
        var (native, facts) = await NativeAsync();
        WriteYaml();

        var imported = await PlanAsync(facts);

        imported.Should().Be(native);
    }

    [Fact]
    public async Task The_playbooks_own_vars_pass_silently_and_a_near_miss_of_a_known_var_is_warned_at_its_file_and_line()
    {
        WriteIni();
        _site.Append("ansible/group_vars/pgw.yml", "listen_interfce: ens4\n");

        var site = await _site.LoadAsync("prod-example");

        site.Warnings.Select(w => w.ToString()).Should().Equal(
            "ansible/group_vars/pgw.yml:2: var 'listen_interfce' is declared by no NF of the site (nor read by nf-deploy itself); did you mean 'listen_interface'?");
        site.Inventory.Hosts.Single(h => h.Name == "sip-a").Vars["ntp_server"].Should().Be("192.0.2.123", "the playbooks' vars are vars of the site too");
    }

    [Fact]
    public async Task A_host_not_reached_over_ssh_and_an_unused_ssh_option_are_warned_and_left_out()
    {
        WriteIni(Ini.Replace("bastion ansible_host", "localhost ansible_connection=local\nbastion ansible_host")
            .Replace("'-o ProxyJump=198.51.100.10'", "'-o StrictHostKeyChecking=no -o ProxyJump=198.51.100.10'"));

        var site = await _site.LoadAsync("prod-example");

        site.Inventory.Hosts.Select(h => h.Name).Should().NotContain("localhost");
        site.Warnings.Select(w => w.ToString()).Should().Equal(
            "ansible/hosts:1: host 'localhost' is reached with ansible_connection=local: nf-deploy reaches hosts over SSH only, so it is left out",
            "ansible/hosts:26: ansible_ssh_common_args: option 'StrictHostKeyChecking' is not used (only ProxyJump is)");
    }

    [Theory]
    [InlineData("sip-d ansible_host='192.0.2.24;touch /tmp/nfd-owned'", "'192.0.2.24;touch /tmp/nfd-owned' is not a host name or IP address")]
    [InlineData("sip-d ansible_host=192.0.2.24 ansible_user='root;id'", "ansible_user 'root;id' is not a user name")]
    [InlineData("sip-d ansible_host=\"{{ lookup('pipe', 'id') }}\"", "ansible_host holds a Jinja expression, which nf-deploy does not evaluate: write the value itself")]
    [InlineData("sip-d ansible_host=192.0.2.24 ansible_port=99999", "ansible_port '99999' is not a port")]
    [InlineData("sip-d ansible_host=192.0.2.24 ansible_ssh_common_args='-o ProxyCommand=nc %h %p'",
        "ansible_ssh_common_args: a ProxyCommand is a command, which nf-deploy does not run: use -o ProxyJump=[user@]host[:port]")]
    [InlineData("sip-d ansible_host=192.0.2.24 ansible_ssh_common_args='-J a.example,b.example'", "ansible_ssh_common_args: ProxyJump through more than one host is not supported")]
    [InlineData("$(id) ansible_host=192.0.2.24", "'$(id)' cannot be a host name of nf-deploy (letters, digits and '-'): give it an alias (alias ansible_host=...)")]
    [InlineData("[kamailio;id]", "'kamailio;id' is not a valid group name (letters, digits, '_', '-' and '.', at most 63)")]
    [InlineData("sip-d ansible_host=192.0.2.24 \"unclosed", "a quote is not closed")]
    public async Task A_hostile_value_of_the_ini_inventory_is_refused_at_its_line(string line, string problem)
    {
        WriteIni(Ini.Replace("sip-c ansible_host=192.0.2.23", "sip-c ansible_host=192.0.2.23\n" + line));

        var act = () => _site.LoadAsync("prod-example");

        (await act.Should().ThrowAsync<SiteException>()).Which.Message.Should().Be($"ansible/hosts:7: {problem}");
    }

    [Theory]
    [InlineData("ansible/group_vars/kamailio.yml", "secret: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162636465\n",
        "ansible/group_vars/kamailio.yml:1: var 'secret' is an Ansible Vault value, which nf-deploy does not open: keep it in the stack as a secret (./deploy config set <key> --secret) and name it from there")]
    [InlineData("ansible/group_vars/pgw.yml", "$ANSIBLE_VAULT;1.1;AES256\n6162636465\n",
        "ansible/group_vars/pgw.yml:1: an Ansible Vault file, which nf-deploy does not open: keep its secrets in the stack (./deploy config set <key> --secret)")]
    [InlineData("ansible/hosts", "#!/usr/bin/env python3\nprint('{}')\n",
        "ansible/hosts:1: an inventory script is not run by nf-deploy; export its hosts once: ansible-inventory -i <it> --list --yaml > hosts.yml")]
    public async Task Nothing_of_the_inventory_is_run_or_decrypted(string file, string content, string error)
    {
        WriteIni();
        _site.Write(file, content);

        var act = () => _site.LoadAsync("prod-example");

        (await act.Should().ThrowAsync<SiteException>()).Which.Message.Should().Be(error);
    }

    [Fact]
    public async Task An_inventory_plugin_is_not_run()
    {
        WriteYaml();
        _site.Write("ansible-yaml/inventory.yml", "plugin: amazon.aws.aws_ec2\nregions: [eu-west-1]\n");

        var act = () => _site.LoadAsync("prod-example");

        (await act.Should().ThrowAsync<SiteException>()).Which.Message.Should().Be(
            "ansible-yaml/inventory.yml:1: an inventory plugin is not run by nf-deploy; export its hosts once: ansible-inventory -i <it> --list --yaml > hosts.yml");
    }

    [Theory]
    [InlineData("../../../etc/ansible/hosts", "ansible inventory '../../../etc/ansible/hosts' is outside the project")]
    [InlineData("/etc/ansible/hosts", "ansible inventory '/etc/ansible/hosts' is outside the project")]
    [InlineData("ansible", "ansible inventory 'ansible' is a folder: name the inventory file in it (hosts, hosts.yml...)")]
    [InlineData("ansible/nothing", "ansible inventory 'ansible/nothing' not found")]
    public async Task The_inventory_path_stays_in_the_project(string path, string problem)
    {
        WriteIni();
        _site.Write("inventory/prod-example.yaml", Native.Replace("ANSIBLE", path));

        var act = () => _site.LoadAsync("prod-example");

        (await act.Should().ThrowAsync<SiteException>()).Which.Message.Should().Be($"inventory/prod-example.yaml:2: {problem}");
    }

    [Fact]
    public async Task Ranges_expand_and_pgwCount_above_the_ansible_group_is_the_same_error_as_for_a_native_group()
    {
        WriteIni(Ini.Replace("pgw-a ansible_host=192.0.2.41\npgw-b ansible_host=192.0.2.42 listen_interface=ens3", "pgw-[a:b]"));
        _site.Edit("stacks/Pulumi.prod-example.yaml", "pgwCount: 2", "pgwCount: 3");

        var act = () => _site.LoadAsync("prod-example");

        (await act.Should().ThrowAsync<SiteException>()).Which.Message.Should().Be(
            "inventory/prod-example.yaml:6: group 'pgw': pgwCount is 3 but the group lists only 2 machines (pgw-a, pgw-b); add machines or lower pgwCount " +
            "(./deploy config set pgwCount 2 --stack prod-example)");
    }

    [Fact]
    public async Task Deploy_renders_a_site_whose_hosts_come_from_an_ansible_inventory()
    {
        WriteIni();
        _site.Append("inventory/prod-example.yaml", """

            hosts:
              # facts for the offline render, beside the Ansible inventory's hosts
              sip-a: { facts: { codename: bookworm, init: systemd, default_interface: ens3, interfaces: { ens3: [10.20.0.21], ens4: [192.0.2.21] } } }
              sip-b: { facts: { codename: bookworm, init: systemd, default_interface: ens3, interfaces: { ens3: [10.20.0.22], ens4: [192.0.2.22] } } }
              sip-c: { facts: { codename: bookworm, init: systemd, default_interface: ens3, interfaces: { ens3: [10.20.0.23], ens4: [192.0.2.23] } } }
              pgw-a: { facts: { codename: bookworm, init: systemd, default_interface: ens3, interfaces: { ens3: [10.20.0.41], ens4: [192.0.2.41] } } }
              pgw-b: { facts: { codename: bookworm, init: systemd, default_interface: ens3, interfaces: { ens3: [10.20.0.42], ens4: [192.0.2.42] } } }
              pcrf-a: { facts: { codename: bookworm, init: systemd, default_interface: ens3, interfaces: { ens3: [10.20.0.31], ens4: [192.0.2.31] } } }
            """);

        var (exit, stdout, stderr) = await DeployProcess.RunAsync(_site.Dir, null, "render", "--stack", "prod-example", "--out", Path.Combine(_site.Dir, "out"));

        exit.Should().Be(0, stderr);
        stdout.Should().StartWith("rendered ").And.Contain(" for 6 hosts ");
        stderr.Should().NotContain("warning:");
        File.ReadAllText(Path.Combine(_site.Dir, "out/sip-a/etc/kamailio/kamailio.cfg")).Should().Contain("192.0.2.21");
    }
}
