using System.Net;
using System.Text.Json.Nodes;
using AwesomeAssertions;
using Deploy.Resources.Health;

namespace Deploy.Integration.Tests;

/// <summary>The seed's Kamailio playbook, as nf-deploy rolls it out: three lab hosts, a DMQ cluster, idempotent.</summary>
[Collection("lab")]
public sealed class KamailioDmqSliceSpecs(RolledOutLab lab)
{
    private LabSite Site => lab.Site;

    private async Task<Dictionary<string, (string Mtime, string Pid)>> SnapshotAsync() =>
        (await Task.WhenAll(LabSite.Kamailio.Select(async k =>
        {
            var o = await Site.Sh(k.Name, "stat -c %Y.%i /etc/kamailio/kamailio.cfg; cat /run/kamailio/kamailio.pid");
            var lines = o.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            return (k.Name, lines[0], lines[1]);
        }))).ToDictionary(x => x.Name, x => (x.Item2, x.Item3));

    private static IEnumerable<JsonObject> Changes(JsonObject plan) =>
        plan["steps"]!.AsArray().Select(s => s!.AsObject()).Where(s => (string)s["op"]! != "same");

    [Fact]
    public async Task Up_brings_up_three_kamailio_nodes_that_answer_options_and_see_each_other_over_dmq()
    {
        lab.FirstUp.Exit.Should().Be(0, lab.FirstUp.Out + lab.FirstUp.Err);
        lab.FirstUp.Out.Should().Contain("kamailio-1: ok").And.Contain("kamailio-2: ok").And.Contain("kamailio-3: ok");

        foreach (var (_, ip) in LabSite.Kamailio)
        {
            var status = await SipOptionsProbe.PingAsync(IPAddress.Parse(ip), 5060, TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken);
            status.Should().StartWith("SIP/2.0 200", $"Kamailio answers OPTIONS on {ip}:5060");
        }

        // DMQ: every node lists all three, active (nodes learn each other through the seed node)
        var deadline = DateTime.UtcNow.AddSeconds(90);
        foreach (var (name, _) in LabSite.Kamailio)
        {
            HashSet<string> active;
            string nodes;
            while (true)
            {
                nodes = await Site.Sh(name, "kamcmd dmq.list_nodes");
                active = ActiveHosts(nodes);
                if (LabSite.Kamailio.All(k => active.Contains(k.Ip)) || DateTime.UtcNow > deadline) break;
                await Task.Delay(2000, TestContext.Current.CancellationToken);
            }
            active.Should().Contain(LabSite.Kamailio.Select(k => k.Ip), $"{name} lists all three nodes active:\n{nodes}");
        }

        // kamcmd prints one block per node: "host: 10.212.0.11" ... "status: active"
        static HashSet<string> ActiveHosts(string listing)
        {
            var result = new HashSet<string>();
            string? host = null;
            foreach (var line in listing.Split('\n').Select(l => l.Trim()))
            {
                if (line.StartsWith("host: ", StringComparison.Ordinal)) host = line[6..];
                else if (line == "status: active" && host is not null) result.Add(host);
            }
            return result;
        }
    }

    [Fact]
    public async Task A_second_up_changes_nothing_rewrites_no_file_and_restarts_no_service()
    {
        var before = await SnapshotAsync();

        var preview = await Site.PreviewJson();
        preview.Exit.Should().Be(0, preview.Err);
        Changes(preview.Json).Should().BeEmpty();
        (await Site.Preview(expectNoChanges: true)).Exit.Should().Be(0);

        var up = await Site.Up();
        up.Exit.Should().Be(0, up.Out + up.Err);
        up.Out.Should().Contain("kamailio-1: ok, 0 changed").And.Contain("kamailio-2: ok, 0 changed").And.Contain("kamailio-3: ok, 0 changed");
        (await SnapshotAsync()).Should().BeEquivalentTo(before, "mtime/inode of kamailio.cfg and kamailio's pid are unchanged");
    }

    [Fact]
    public async Task A_changed_template_line_updates_exactly_the_three_configs_and_restarts_the_three_services()
    {
        var template = Site.Read("templates/kamailio/kamailio.cfg.sbn");
        try
        {
            Site.Write("templates/kamailio/kamailio.cfg.sbn", template.Replace("debug=2\n", "debug=2\n# tuned by the NOC\n"));
            var before = await SnapshotAsync();

            var preview = await Site.PreviewJson();
            preview.Exit.Should().Be(0, preview.Err);
            var changes = Changes(preview.Json).ToList();
            changes.Should().HaveCount(6);
            changes.Where(c => (string)c["type"]! == "nfdeploy:fs:File").Select(c => ((string)c["host"]!, (string)c["path"]!, (string)c["op"]!))
                .Should().BeEquivalentTo(LabSite.Kamailio.Select(k => (k.Name, "/etc/kamailio/kamailio.cfg", "update")));
            changes.Where(c => (string)c["type"]! == "nfdeploy:svc:Service").Select(c => ((string)c["host"]!, (string)c["name"]!, (bool)c["restart"]!))
                .Should().BeEquivalentTo(LabSite.Kamailio.Select(k => (k.Name, "kamailio", true)));
            changes.Where(c => c["diff"] is not null).Should().HaveCount(3)
                .And.AllSatisfy(c => ((string)c["diff"]!).Should().Contain("\n+# tuned by the NOC\n").And.Contain("\n debug=2\n"));

            var up = await Site.Up();
            up.Exit.Should().Be(0, up.Out + up.Err);
            foreach (var (name, _) in LabSite.Kamailio)
                up.Out.Should().Contain($"{name}: ok, 2 changed, healthy", "up applies only the config and the restart it causes");
            var after = await SnapshotAsync();
            foreach (var (name, _) in LabSite.Kamailio)
            {
                after[name].Mtime.Should().NotBe(before[name].Mtime, $"{name}'s kamailio.cfg was rewritten");
                after[name].Pid.Should().NotBe(before[name].Pid, $"{name}'s kamailio was restarted");
                (await Site.Sh(name, "grep -c 'tuned by the NOC' /etc/kamailio/kamailio.cfg")).Trim().Should().Be("1");
            }
            var again = await Site.PreviewJson();
            Changes(again.Json).Should().BeEmpty();
        }
        finally
        {
            Site.Write("templates/kamailio/kamailio.cfg.sbn", template);
            (await Site.Up()).Exit.Should().Be(0);
        }
    }

    [Fact]
    public async Task A_hand_edit_is_caught_by_preview_reported_by_refresh_and_reverted_by_up()
    {
        var desired = await Site.Sh("kamailio-1", "sha256sum < /etc/kamailio/kamailio.cfg");
        await Site.Sh("kamailio-2", "echo '# hotfix by hand' >> /etc/kamailio/kamailio.cfg");

        var preview = await Site.Preview(expectNoChanges: true);
        preview.Exit.Should().Be(3);
        var proposed = preview.Err[preview.Err.IndexOf("error: no changes were expected", StringComparison.Ordinal)..];
        proposed.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(l => l.Trim()).Should().Equal(
            "kamailio-2: update nfdeploy:fs:File /etc/kamailio/kamailio.cfg",
            "kamailio-2: update nfdeploy:svc:Service kamailio");
        preview.Out.Should().Contain("-# hotfix by hand");

        var refresh = await Site.Refresh();
        refresh.Exit.Should().Be(3);
        refresh.Out.Should().Contain("drift kamailio-2: /etc/kamailio/kamailio.cfg: sha256");

        var up = await Site.Up();
        up.Exit.Should().Be(0, up.Out + up.Err);
        (await Site.Sh("kamailio-2", "grep -c 'hotfix by hand' /etc/kamailio/kamailio.cfg || true")).Trim().Should().Be("0");
        var k2 = await Site.Sh("kamailio-2", "sed 's/10.212.0.12/IP/g; s/kamailio-2/HOST/g' /etc/kamailio/kamailio.cfg | sha256sum");
        var k1 = await Site.Sh("kamailio-1", "sed 's/10.212.0.11/IP/g; s/kamailio-1/HOST/g' /etc/kamailio/kamailio.cfg | sha256sum");
        k2.Should().Be(k1, "kamailio-2's config is back to what the template renders");
        desired.Should().NotBeNullOrEmpty();
        (await Site.Preview(expectNoChanges: true)).Exit.Should().Be(0);
    }

    [Fact]
    public async Task A_restart_left_pending_by_a_run_that_died_is_made_by_the_next_up()
    {
        // a run that changed kamailio.cfg on kamailio-3 and died (kill -9) before restarting kamailio leaves this behind
        var statePath = Path.Combine(Site.Dir, ".pulumi", "stacks", "nf-deploy", $"{Site.Stack}.json");
        var state = JsonNode.Parse(File.ReadAllText(statePath))!;
        state["checkpoint"]!["latest"]!["pendingRestarts"] = new JsonArray("kamailio-3:kamailio");
        File.WriteAllText(statePath, state.ToJsonString());
        var pid = await Site.Sh("kamailio-3", "cat /run/kamailio/kamailio.pid");

        var preview = await Site.PreviewJson();
        Changes(preview.Json).Select(c => ((string)c["host"]!, (string)c["name"]!, (bool)c["restart"]!)).Should().Equal(("kamailio-3", "kamailio", true));

        var up = await Site.Up();
        up.Exit.Should().Be(0, up.Out + up.Err);
        (await Site.Sh("kamailio-3", "cat /run/kamailio/kamailio.pid")).Should().NotBe(pid, "kamailio was restarted");
        JsonNode.Parse(File.ReadAllText(statePath))!["checkpoint"]!["latest"]!["pendingRestarts"]!.AsArray().Should().BeEmpty("the pending restart is done");
        Changes((await Site.PreviewJson()).Json).Should().BeEmpty();
    }

    [Fact]
    public async Task The_non_root_host_is_managed_through_sudo()
    {
        (await Site.Sh("kamailio-2", "echo \"$SUDO_USER:$(id -un)\"")).Trim().Should().Be("deploy:root");
        Site.Read($"inventory/{Site.Stack}.yaml").Should().Contain("kamailio-2: { address: 10.212.0.12, lab: true, ssh: { user: deploy } }");
    }
}
