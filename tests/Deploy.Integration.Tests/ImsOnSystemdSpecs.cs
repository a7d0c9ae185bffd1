using System.Net;
using System.Text.Json.Nodes;
using AwesomeAssertions;
using Deploy.Resources.Health;

namespace Deploy.Integration.Tests;

/// <summary>The IMS box on systemd (ims-1 of the IMS lab boots systemd): Debian's own kamailio.service is kept stopped
/// and disabled so that only the instances (kamailio@pcscf, @icscf, @scscf) bind their sockets; a change of the template
/// unit reloads systemd before it restarts each instance once; a reboot brings the box back by itself.</summary>
[Collection("ims")]
public sealed class ImsOnSystemdSpecs(ImsLab lab)
{
    private static readonly string[] Cscfs = ["pcscf", "icscf", "scscf"];
    private LabSite Site => lab.Site;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static IEnumerable<JsonObject> Changes(JsonObject plan) =>
        plan["steps"]!.AsArray().Select(s => s!.AsObject()).Where(s => (string)s["op"]! != "same");

    [Fact]
    public async Task The_stock_kamailio_service_is_stopped_and_disabled_and_only_the_three_instances_listen()
    {
        lab.FirstUp.Exit.Should().Be(0, lab.FirstUp.Out + lab.FirstUp.Err);
        (await lab.Sh("cat /proc/1/comm")).Trim().Should().Be("systemd");
        (await lab.Sh("systemctl is-active kamailio; systemctl is-enabled kamailio; true")).Should().Be("inactive\ndisabled\n");
        foreach (var i in Cscfs)
            (await lab.Sh($"systemctl is-active kamailio@{i}; systemctl is-enabled kamailio@{i}")).Should().Be("active\nenabled\n");

        // every SIP socket on the box belongs to an instance: its listen IP and its own port, nothing on 5060 elsewhere
        var sockets = await lab.Sh("ss -Hlntup | awk '{print $1, $5}' | grep -E ':50[0-9]{2}$' | sort -u");
        sockets.Should().Be(string.Join("", new[] { "tcp", "udp" }.SelectMany(p => new[] { 5060, 5061, 5070, 5080 }
            .Where(port => !(p == "udp" && port == 5061)).Select(port => $"{p} {lab.Ip}:{port}\n")).Order(StringComparer.Ordinal)));
        foreach (var (i, port) in new[] { ("pcscf", 5060), ("icscf", 5070), ("scscf", 5080) })
        {
            var r = await SipOptionsProbe.ProbeAsync(IPAddress.Parse(lab.Ip), port, "udp", null, TimeSpan.FromSeconds(3), Ct);
            r.Status.Should().StartWith("SIP/2.0 200", $"{i} answers on {port}: {r.Detail}");
        }
    }

    [Fact]
    public async Task A_hand_started_stock_kamailio_is_drift_in_preview_and_up_stops_and_disables_it_again()
    {
        // someone turns Debian's service back on, with a config of their own in its /etc/kamailio (one that can get its
        // socket: with the stock config it would fail on the instances' 5060), enabled at boot and started
        await lab.Sh("""
            cp /etc/kamailio/kamailio.cfg /root/kamailio.cfg.stock
            printf '#!KAMAILIO\nlisten=udp:127.0.0.1:5999\nloadmodule "sl.so"\nrequest_route { sl_send_reply("200", "ok"); }\n' > /etc/kamailio/kamailio.cfg
            systemctl enable --quiet kamailio; systemctl start kamailio
            """);
        (await lab.Sh("systemctl is-active kamailio; systemctl is-enabled kamailio")).Should().Be("active\nenabled\n");
        try
        {
            var preview = await Site.Preview(expectNoChanges: true);
            preview.Exit.Should().Be(3, preview.Out + preview.Err);
            preview.Err.Should().Contain("ims-1: update nfdeploy:svc:Service kamailio");
            preview.Out.Should().Contain("kamailio  [running: yes → no; enabled: yes → no]");
        }
        finally
        {
            var up = await Site.Up();
            up.Exit.Should().Be(0, up.Out + up.Err);
            up.Out.Should().Contain("ims-1: ok");
            await lab.Sh("cp /root/kamailio.cfg.stock /etc/kamailio/kamailio.cfg");
        }
        (await lab.Sh("systemctl is-active kamailio; systemctl is-enabled kamailio; true")).Should().Be("inactive\ndisabled\n");
        foreach (var i in Cscfs)
            (await lab.Sh($"kamcmd -s unix:/run/kamailio-{i}/kamailio_ctl core.version")).Should().Contain("kamailio 5.6");
        (await Site.Preview(expectNoChanges: true)).Exit.Should().Be(0);
    }

    [Fact]
    public async Task A_changed_template_unit_reloads_systemd_then_restarts_each_instance_exactly_once()
    {
        const string unit = "nf/kamailio-instance/files/kamailio@.service";
        var original = Site.Read(unit);
        Site.Write(unit, original.Replace("Restart=on-failure\n", "Restart=on-failure\nLimitNOFILE=16384\n", StringComparison.Ordinal));
        try
        {
            var preview = await Site.PreviewJson();
            var changes = Changes(preview.Json).Where(c => (string)c["host"]! == "ims-1").ToList();
            changes.Select(c => (string)c["name"]!).Should().BeEquivalentTo(
                ["/etc/systemd/system/kamailio@.service", "kamailio@pcscf", "kamailio@icscf", "kamailio@scscf"]);
            foreach (var svc in changes.Where(c => (string)c["type"]! == "nfdeploy:svc:Service"))
                svc["changes"]!.AsArray().Select(c => (string)c!["name"]!).Should().Equal(["daemon-reload", "restart"], "systemd reloads its units first");
            var text = await Site.Preview(expectNoChanges: false);
            text.Out.Should().Contain("kamailio@pcscf  [daemon-reload: /etc/systemd/system/kamailio@.service changed; restart: /etc/systemd/system/kamailio@.service changed]");

            var since = (await lab.Sh("date +%s")).Trim();
            await Task.Delay(1100, Ct); // journal times are to the second
            var up = await Site.Up();
            up.Exit.Should().Be(0, up.Out + up.Err);
            (up.Out + up.Err).Should().Contain("kamailio@scscf (daemon-reload) (restart:");
            foreach (var i in Cscfs)
            {
                var started = await lab.Sh($"journalctl -u kamailio@{i} --since @{since} -o cat | grep -c '^Started' || true");
                started.Trim().Should().Be("1", $"kamailio@{i} restarted exactly once");
                (await lab.Sh($"systemctl show -p LimitNOFILE -p NeedDaemonReload kamailio@{i}")).Should()
                    .Contain("LimitNOFILE=16384").And.Contain("NeedDaemonReload=no", "the process runs under the new unit");
            }
            Changes((await Site.PreviewJson()).Json).Should().BeEmpty();
        }
        finally
        {
            Site.Write(unit, original);
            var back = await Site.Up();
            back.Exit.Should().Be(0, back.Out + back.Err);
        }
    }

    [Fact]
    public async Task An_instance_that_fails_to_start_is_reported_with_its_journal_and_the_box_is_rolled_back()
    {
        const string unit = "nf/kamailio-instance/files/kamailio@.service";
        var original = Site.Read(unit);
        var liveUnit = await lab.Sh("sha256sum /etc/systemd/system/kamailio@.service");
        Site.Write(unit, original.Replace("ExecStartPre=", "ExecStartPre=/bin/sh -c 'echo nfd-spec: refusing to start >&2; exit 1'\nExecStartPre=", StringComparison.Ordinal));
        try
        {
            var up = await Site.Up();
            up.Exit.Should().Be(1, up.Out + up.Err);
            up.Out.Should().Contain("ims-1: FAILED").And.Contain("service kamailio@pcscf")
                .And.Contain("journalctl -u kamailio@pcscf.service").And.Contain("nfd-spec: refusing to start")
                .And.Contain("rolled back to the previous files, healthy again");
            (await lab.Sh("sha256sum /etc/systemd/system/kamailio@.service")).Should().Be(liveUnit, "the unit that worked is back");
            foreach (var i in Cscfs)
                (await lab.Sh($"systemctl is-active kamailio@{i}; systemctl show -p NeedDaemonReload --value kamailio@{i}")).Should().Be("active\nno\n");
        }
        finally { Site.Write(unit, original); }
        var clean = await Site.Preview(expectNoChanges: true);
        clean.Exit.Should().Be(0, "the restarts this run made due went with its files: " + clean.Out + clean.Err);
    }

    [Fact]
    public async Task A_rebooted_ims_box_and_trunk_come_back_healthy_without_a_run()
    {
        var p = Site.SubnetPrefix;
        await Reboot.ShowsEveryHostBackAsync(Site, ("ims-1", $"{p}.21"), ("trunk-1", $"{p}.25"));
        (await lab.Sh("systemctl is-active mariadb kamailio@pcscf kamailio@icscf kamailio@scscf")).Should().Be("active\nactive\nactive\nactive\n");
        (await lab.Sh("/usr/local/lib/nf-deploy/kamailio-uac-check /run/kamailio-scscf/kamailio_ctl")).Should().StartWith("trunk1: online");
        // Debian's stock kamailio.service, disabled by the run, stays down across the reboot
        (await lab.Sh("systemctl is-active kamailio || true")).Should().Be("inactive\n");
    }
}
