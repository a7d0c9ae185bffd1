using AwesomeAssertions;

namespace Deploy.Integration.Tests;

/// <summary>Runtime failures are per host and per resource: named clearly, the other hosts proceed, state stays true.</summary>
[Collection("lab")]
public sealed class FailureSpecs(RolledOutLab lab)
{
    private LabSite Site => lab.Site;
    private string Inventory => $"inventory/{Site.Stack}.yaml";

    private async Task<string> PidsAsync() =>
        string.Join(",", await Task.WhenAll(LabSite.Kamailio.Select(k => Site.Sh(k.Name, "cat /run/kamailio/kamailio.pid; stat -c %Y /etc/kamailio/kamailio.cfg"))));

    [Fact]
    public async Task An_unreachable_host_fails_alone_and_the_others_still_roll_out()
    {
        var inventory = Site.Read(Inventory);
        try
        {
            // a machine of the site that is down: nothing answers at 10.212.0.99 on the lab network
            Site.Write(Inventory, inventory
                .Replace("  kamailio-3: { address: 10.212.0.13, lab: { init: sysv } }", "  kamailio-3: { address: 10.212.0.13, lab: { init: sysv } }\n  ghost: { address: 10.212.0.99 }")
                .Replace("hosts: [kamailio-1, kamailio-2, kamailio-3]", "hosts: [kamailio-1, kamailio-2, kamailio-3, ghost]"));
            var stateBefore = File.ReadAllText(Path.Combine(Site.Dir, ".pulumi", "stacks", "nf-deploy", "it.json"));

            var preview = await Site.Preview(expectNoChanges: false);
            preview.Exit.Should().Be(1);
            preview.Out.Should().Contain("ghost: error: host ghost: unreachable: 10.212.0.99");

            var up = await Site.Up();
            up.Exit.Should().Be(1, "a host failed");
            up.Out.Should().Contain("kamailio-1: ok").And.Contain("kamailio-2: ok").And.Contain("kamailio-3: ok")
                .And.Contain("ghost: FAILED: host ghost: unreachable");
            var stateAfter = File.ReadAllText(Path.Combine(Site.Dir, ".pulumi", "stacks", "nf-deploy", "it.json"));
            stateAfter.Should().NotContain("ghost", "nothing is recorded for a host that was not reached");
            stateAfter.Split("\"urn\"").Length.Should().Be(stateBefore.Split("\"urn\"").Length, "the other hosts' records are intact");
            File.Exists(Path.Combine(Site.Dir, ".pulumi", "locks", "nf-deploy", "it.json")).Should().BeFalse("the lock is released");
        }
        finally { Site.Write(Inventory, inventory); }
        (await Site.Preview(expectNoChanges: true)).Exit.Should().Be(0);
    }

    [Fact]
    public async Task A_changed_ssh_host_key_is_refused_with_a_clear_error()
    {
        var knownHosts = Path.Combine(Site.Dir, ".nf-deploy", "known_hosts");
        var original = File.ReadAllText(knownHosts);
        try
        {
            // pin kamailio-3 to kamailio-1's key: to the deployer, kamailio-3 now presents a different key
            var lines = original.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
            var k1 = lines.First(l => l.StartsWith("10.212.0.11 ", StringComparison.Ordinal)).Split(' ');
            lines = [.. lines.Where(l => !l.StartsWith("10.212.0.13 ", StringComparison.Ordinal)), $"10.212.0.13 {k1[1]} {k1[2]}"];
            File.WriteAllText(knownHosts, string.Join('\n', lines) + "\n");

            var preview = await Site.Preview(expectNoChanges: false);
            preview.Exit.Should().Be(1);
            preview.Out.Should().Contain("kamailio-3: error: host kamailio-3 (10.212.0.13").And.Contain("SSH host key changed")
                .And.Contain(".nf-deploy/known_hosts");
            preview.Out.Should().NotContain("kamailio-1: error").And.NotContain("kamailio-2: error");
        }
        finally { File.WriteAllText(knownHosts, original); }
        (await Site.Preview(expectNoChanges: true)).Exit.Should().Be(0);
    }

    [Fact]
    public async Task A_dmq_server_address_on_no_listen_socket_is_caught_although_kamailio_c_passes_and_nothing_is_replaced()
    {
        var template = Site.Read("templates/kamailio/kamailio.cfg.sbn");
        var before = await PidsAsync();
        try
        {
            Site.Write("templates/kamailio/kamailio.cfg.sbn",
                template.Replace("modparam(\"dmq\", \"server_address\", \"{{ nf.dmq_server_address }}\")", "modparam(\"dmq\", \"server_address\", \"sip:{{ nf.listen_ip }}:5091\")"));
            var up = await Site.Up();
            up.Exit.Should().Be(1);
            // the first node of the cluster refuses it; the rollout of the group stops there (one batch at a time)
            up.Out.Should().Contain("kamailio-1: FAILED, 0 changed: host kamailio-1: /etc/kamailio/kamailio.cfg: validation failed, the old content stays:")
                .And.Contain($"dmq server_address sip:{LabSite.Kamailio[0].Ip}:5091 matches no listen socket")
                .And.Contain("kamailio-2: FAILED, 0 changed: not touched: the rollout of group kamailio stopped after 1 of 3 hosts failed");
            (await PidsAsync()).Should().Be(before, "no config replaced, no service restarted");
        }
        finally { Site.Write("templates/kamailio/kamailio.cfg.sbn", template); }
        (await Site.Preview(expectNoChanges: true)).Exit.Should().Be(0);
    }

    [Fact]
    public async Task A_config_kamailio_rejects_is_caught_by_its_own_check_and_the_running_one_keeps_serving()
    {
        var template = Site.Read("templates/kamailio/kamailio.cfg.sbn");
        var before = await PidsAsync();
        try
        {
            Site.Write("templates/kamailio/kamailio.cfg.sbn", template.Replace("loadmodule \"sanity.so\"", "loadmodule \"sanity_nope.so\""));
            var up = await Site.Up();
            up.Exit.Should().Be(1);
            up.Out.Should().Contain("kamailio-1: FAILED, 0 changed: host kamailio-1: /etc/kamailio/kamailio.cfg: validation failed, the old content stays:")
                .And.Contain("sanity_nope")
                .And.Contain("kamailio-3: FAILED, 0 changed: not touched: the rollout of group kamailio stopped after 1 of 3 hosts failed");
            (await PidsAsync()).Should().Be(before);
        }
        finally { Site.Write("templates/kamailio/kamailio.cfg.sbn", template); }
        (await Site.Preview(expectNoChanges: true)).Exit.Should().Be(0);
    }

    [Fact]
    public async Task A_template_that_breaks_the_service_is_rolled_back_on_the_first_node_and_the_others_are_not_touched()
    {
        var template = Site.Read("templates/kamailio/kamailio.cfg.sbn");
        var before = await PidsAsync();
        var cfg1 = await Site.Sh("kamailio-1", "sha256sum < /etc/kamailio/kamailio.cfg");
        try
        {
            // passes kamailio -c and kamailio-check, but the node no longer answers OPTIONS with 200
            Site.Write("templates/kamailio/kamailio.cfg.sbn", template.Replace("sl_send_reply(\"200\", \"Keepalive\");", "sl_send_reply(\"503\", \"Broken on purpose\");"));
            var up = await Site.Up();
            up.Exit.Should().Be(1);
            up.Out.Should().Contain("kamailio-1: FAILED").And.Contain("rolled back to the previous files, healthy again");
            up.Out.Should().Contain("kamailio-2: FAILED, 0 changed: not touched: the rollout of group kamailio stopped after 1 of 3 hosts failed")
                .And.Contain("kamailio-3: FAILED, 0 changed: not touched: the rollout of group kamailio stopped after 1 of 3 hosts failed");

            (await Site.Sh("kamailio-1", "sha256sum < /etc/kamailio/kamailio.cfg")).Should().Be(cfg1, "kamailio-1 has its previous config again");
            var status = await Deploy.Resources.Health.SipOptionsProbe.PingAsync(System.Net.IPAddress.Parse(LabSite.Kamailio[0].Ip), 5060, TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken);
            status.Should().StartWith("SIP/2.0 200", "kamailio-1 serves again on the old config");
            var after = (await PidsAsync()).Split(',');
            after[1].Should().Be(before.Split(',')[1], "kamailio-2 was not touched");
            after[2].Should().Be(before.Split(',')[2], "kamailio-3 was not touched");
        }
        finally { Site.Write("templates/kamailio/kamailio.cfg.sbn", template); }
        (await Site.Preview(expectNoChanges: true)).Exit.Should().Be(0, "the state tells the truth: kamailio-1 has the previous config");
    }
}
