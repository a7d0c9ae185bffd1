using System.Collections.Immutable;
using AwesomeAssertions;
using Deploy.Core.Model;
using Deploy.Core.Transport;
using Deploy.Site.Compile;
using Deploy.Site.Model;
using Xunit;

namespace Deploy.Tests;

/// <summary>How a host is reached over SSH: the inventory's ssh: keys, what ~/.ssh/config adds, and a bastion down once.</summary>
public sealed class SshSettingsSpecs
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string OperatorConfig = """
        # the operator's ~/.ssh/config
        Host b1
            HostName 198.51.100.10
            User jump
            Port 2222
            IdentityFile /keys/jump_ed25519

        Host sip-* !sip-z
          User = ops
          IdentityFile="/keys/ops key"
          ProxyJump b1
          ConnectTimeout 3

        Host 192.0.2.*
            Port 2200
            User by-address

        Match host sip-a
            User never

        Host *
            User fallback
            ConnectionAttempts 2
        """;

    private static SshConfigFile Config => SshConfigFile.Parse(OperatorConfig, "/home/op/.ssh/config");

    private static InventoryHost Host(string name, string address, SshSettings ssh, JumpSettings? jump = null) =>
        new(name, address, false, ssh.User ?? "root", ssh.Key ?? Inventory.DefaultKey, ssh.Port ?? 22, jump, [], [],
            ImmutableSortedDictionary<string, object?>.Empty, null, "inventory/prod.yaml", 1)
        { Ssh = ssh };

    [Fact]
    public void The_ssh_config_gives_the_first_value_of_each_keyword_from_the_host_blocks_that_match()
    {
        Config.For("sip-a").Should().Be(new SshConfigEntry(null, "ops", null, "/keys/ops key", "b1", TimeSpan.FromSeconds(3), 2));
        Config.For("sip-z").Should().Be(new SshConfigEntry(User: "fallback", ConnectionAttempts: 2), "a negated pattern excludes the name");
        Config.For("b1").Should().Be(new SshConfigEntry("198.51.100.10", "jump", 2222, "/keys/jump_ed25519", ConnectionAttempts: 2));
    }

    [Fact]
    public void A_host_the_inventory_leaves_unset_is_filled_from_the_ssh_config_and_reached_through_its_proxy_jump()
    {
        var connection = SshRoutes.Connection("/site", Host("sip-a", "192.0.2.21", SshSettings.None), Config);

        connection.Endpoint.Should().Be(new SshEndpoint("192.0.2.21", 2200, "by-address", "/keys/ops key")
        {
            ConnectTimeout = TimeSpan.FromSeconds(3),
            ConnectAttempts = 2,
        }, "the block of the address (what ssh is given) comes first, then the blocks of the inventory name");
        connection.Jump.Should().Be(new SshEndpoint("198.51.100.10", 2222, "jump", "/keys/jump_ed25519") { Name = "b1", ConnectAttempts = 2 });
    }

    [Fact]
    public void The_inventorys_ssh_keys_win_over_the_ssh_config()
    {
        var ssh = new SshSettings(User: "deploy", Key: "keys/site_ed25519", Port: 22, KeyPassphraseEnv: "OPS_KEY_PASSPHRASE",
            ConnectTimeout: TimeSpan.FromSeconds(20), ConnectAttempts: 5, Agent: false);

        var connection = SshRoutes.Connection("/site", Host("sip-a", "192.0.2.21", ssh), Config);

        connection.Endpoint.Should().Be(new SshEndpoint("192.0.2.21", 22, "deploy", "/site/keys/site_ed25519")
        {
            Passphrase = new SshKeyPassphrase("OPS_KEY_PASSPHRASE", null),
            UseAgent = false,
            ConnectTimeout = TimeSpan.FromSeconds(20),
            ConnectAttempts = 5,
        });
    }

    [Fact]
    public void An_inventory_address_that_is_an_ssh_config_alias_is_dialled_at_its_host_name()
    {
        var connection = SshRoutes.Connection("/site", Host("edge", "b1", new SshSettings(User: "root")), Config);

        connection.Endpoint.Address.Should().Be("198.51.100.10");
        connection.Endpoint.Port.Should().Be(2222);
        connection.Endpoint.User.Should().Be("root");
    }

    [Fact]
    public void With_no_key_anywhere_the_connector_offers_the_agents_keys_and_the_default_ones()
    {
        var connection = SshRoutes.Connection("/site", Host("db", "203.0.113.5", SshSettings.None), SshConfigFile.Empty);

        connection.Endpoint.Should().Be(new SshEndpoint("203.0.113.5", 22, "root", null));
    }

    [Fact]
    public void A_proxy_jump_with_several_hops_is_refused_naming_the_ssh_config()
    {
        var config = SshConfigFile.Parse("Host *\n  ProxyJump a,b\n", "/home/op/.ssh/config");

        var route = () => SshRoutes.Connection("/site", Host("db", "203.0.113.5", SshSettings.None), config);

        route.Should().Throw<DeployException>().WithMessage("/home/op/.ssh/config: ProxyJump a,b: only one jump host is supported*");
    }

    [Fact]
    public async Task A_passphrase_written_in_the_inventory_is_refused_with_its_line()
    {
        using var site = SiteFixture.FromRepo().Edit("inventory/prod-example.yaml", "  key: ~/.ssh/id_ed25519\n",
            "  key: ~/.ssh/id_ed25519\n  key_passphrase: hunter2\n");

        var load = () => site.LoadAsync("prod-example");

        (await load.Should().ThrowAsync<SiteException>()).Which.Message.Should().Be(
            "inventory/prod-example.yaml:5: the inventory: ssh: a key's passphrase is never written in a site file: name where it is " +
            "with key_passphrase_env (an environment variable) or key_passphrase_file (a file outside the project)");
    }

    [Fact]
    public async Task The_inventory_names_where_a_keys_passphrase_is_and_the_bastion_by_its_name()
    {
        using var site = SiteFixture.FromRepo().Edit("inventory/prod-example.yaml", "  key: ~/.ssh/id_ed25519\n",
            "  key: ~/.ssh/id_ed25519\n  key_passphrase_env: OPS_KEY_PASSPHRASE\n  connect_timeout: 2.5s\n  connect_attempts: 2\n");

        var program = await site.LoadAsync("prod-example");

        var sip = program.Hosts.Single(h => h.Name == "sip-a").Connection;
        sip.Endpoint.Passphrase.Should().Be(new SshKeyPassphrase("OPS_KEY_PASSPHRASE", null));
        sip.Endpoint.ConnectTimeout.Should().Be(TimeSpan.FromSeconds(2.5));
        sip.Endpoint.ConnectAttempts.Should().Be(2);
        sip.Jump!.Name.Should().Be("bastion");
        sip.Jump.Passphrase.Should().Be(new SshKeyPassphrase("OPS_KEY_PASSPHRASE", null), "the bastion takes the inventory's ssh: defaults too");
    }

    [Theory]
    [InlineData("connect_timeout: soon", "ssh connect_timeout must be a time from 0.1 s to 600 s (e.g. 10, 10s or 500ms), not 'soon'")]
    [InlineData("connect_attempts: 0", "ssh connect_attempts must be a whole number from 1 to 100, not '0'")]
    [InlineData("key_passphrase_env: $(reboot)", "ssh: key_passphrase_env must name an environment variable (letters, digits, _), not '$(reboot)'")]
    [InlineData("agent: maybe", "ssh agent must be true or false, not 'maybe'")]
    public async Task A_malformed_ssh_key_is_refused_with_its_line(string line, string message)
    {
        using var site = SiteFixture.FromRepo().Edit("inventory/prod-example.yaml", "  key: ~/.ssh/id_ed25519\n",
            $"  key: ~/.ssh/id_ed25519\n  {line}\n");

        var load = () => site.LoadAsync("prod-example");

        (await load.Should().ThrowAsync<SiteException>()).Which.Message.Should().Be($"inventory/prod-example.yaml:5: the inventory: {message}");
    }

    [Fact]
    public async Task Hosts_behind_a_bastion_that_is_down_are_reported_once_with_the_root_cause()
    {
        using var rig = new EngineRig([.. Enumerable.Range(1, 5).Select(i => new FakeHost($"h{i}", $"10.0.0.{10 + i}"))]);
        foreach (var host in new[] { "h1", "h2", "h4", "h5" }) rig[host].BehindDownBastion = "b1";
        var log = new RecordingLog();
        rig.Log = log;

        var (plan, _) = await rig.PreviewAsync(ProxySite.Of(rig.Hosts, "cfg"), Ct);

        log.Warnings.Should().Equal("b1: bastion b1 unreachable: 4 hosts not read (h1, h2, h4, h5): connection refused (fake bastion)");
        plan.Problems.Select(p => p.Message).Should().Equal(
            "host h1: not read: bastion b1 unreachable", "host h2: not read: bastion b1 unreachable",
            "host h4: not read: bastion b1 unreachable", "host h5: not read: bastion b1 unreachable");
        plan.Steps.Select(s => s.Host).Distinct().Should().Equal("h3");
    }

    private sealed class RecordingLog : Deploy.Core.Engine.IRunLog
    {
        private readonly List<string> _warnings = [];

        public IReadOnlyList<string> Warnings
        {
            get { lock (_warnings) return [.. _warnings]; }
        }

        public void Info(string message) { }

        public void Host(string host, string message) { }

        public void Warn(string host, string message)
        {
            lock (_warnings) _warnings.Add($"{host}: {message}");
        }
    }
}
