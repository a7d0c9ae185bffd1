using System.Net;
using AwesomeAssertions;
using Deploy.Resources.Health;

namespace Deploy.Integration.Tests;

/// <summary>The EPC groups of the lab site alone (stack `o5gs`, network `nfd-o5gs`, 10.219.0.0/24): PCRFs on Debian's
/// freeDiameterd, P-GWs on real Open5GS 2.7 (open5gs-smfd + open5gs-upfd).</summary>
public sealed class RolledOutEpc() : RolledOutSite(new LabSite(network: "nfd-o5gs", subnetPrefix: "10.219.0", stack: "o5gs", groups: ["pcrf", "pgw"]));

/// <summary>The faults of issue 10, each shown fixed on the real Open5GS 2.7 daemons of the lab's P-GWs.</summary>
public sealed class EpcOpen5gsSpecs(RolledOutEpc lab) : IClassFixture<RolledOutEpc>
{
    private LabSite Site => lab.Site;
    private string Ip(string host) => $"{Site.SubnetPrefix}.{40 + int.Parse(host[4..], System.Globalization.CultureInfo.InvariantCulture)}";

    private async Task<string> SmfPidAsync(string pgw) => (await Site.ShAtAsync(pgw, Ip(pgw), "cat /run/open5gs-smfd.pid")).Stdout.Trim();

    [Fact]
    public async Task The_real_smf_started_on_the_seeds_dictionaries_without_sctp_and_answers_a_gtpv2_echo_from_the_deployer()
    {
        lab.FirstUp.Exit.Should().Be(0, lab.FirstUp.Out + lab.FirstUp.Err);
        foreach (var pgw in new[] { "pgw-1", "pgw-2", "pgw-3" })
        {
            var echo = await Gtpv2EchoProbe.ProbeAsync(IPAddress.Parse(Ip(pgw)), 2123, TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken);
            echo.Healthy.Should().BeTrue($"{pgw}: {echo.Detail}");
            // the daemon's last start (the packaged unit may also have restarted it by itself while the run wrote its
            // files): initialized, nothing fatal, on the seed's six dictionaries
            var log = await Site.ShAtAsync(pgw, Ip(pgw),
                "awk '/Open5GS daemon v/ { last = \"\" } { last = last $0 \"\\n\" } END { printf \"%s\", last }' /var/log/open5gs/smf.log > /tmp/last-start; " +
                "grep -c 'SMF initialize...done' /tmp/last-start; grep -c 'FATAL' /tmp/last-start; grep -c 'LoadExtension' /etc/freeDiameter/pgw.conf");
            log.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().Equal(["1", "0", "6"], log.Stdout + log.Stderr);
        }
    }

    [Fact]
    public async Task The_smf_is_associated_with_its_upf_over_pfcp_on_the_listen_ip_and_ogstun_carries_the_ue_gateway()
    {
        var r = await Site.ShAtAsync("pgw-2", Ip("pgw-2"), $"/usr/local/lib/nf-deploy/open5gs-pfcp-check /var/log/open5gs/smf.log {Ip("pgw-2")} && ip -4 addr show dev ogstun");
        r.ExitCode.Should().Be(0, r.Stdout + r.Stderr);
        r.Stdout.Should().Contain($"PFCP associated [{Ip("pgw-2")}]").And.Contain("inet 10.45.0.1/16");
    }

    [Fact]
    public async Task The_key_is_readable_by_open5gs_only_and_a_root_only_key_is_refused_before_the_running_smf_is_touched()
    {
        var perms = await Site.ShAtAsync("pgw-1", Ip("pgw-1"), "stat -c '%U:%G %a' /etc/nf-deploy/tls/pgw-1.key.pem");
        perms.Stdout.Trim().Should().Be("root:open5gs 640");
        var pid = await SmfPidAsync("pgw-1");
        var inventory = $"inventory/{Site.Stack}.yaml";
        var original = Site.Read(inventory);
        try
        {
            Site.Write(inventory, original.Replace("pcscf_group: ims }", "pcscf_group: ims, fd_key_group: root }"));
            var up = await Site.Up();
            up.Exit.Should().Be(1, "validation refuses the key");
            (up.Out + up.Err).Should().Contain("user open5gs cannot read it");
            (await Site.ShAtAsync("pgw-1", Ip("pgw-1"), "stat -c '%U:%G %a' /etc/nf-deploy/tls/pgw-1.key.pem")).Stdout.Trim().Should().Be("root:open5gs 640");
            (await SmfPidAsync("pgw-1")).Should().Be(pid, "the running SMF is not touched");
        }
        finally
        {
            Site.Write(inventory, original);
            (await Site.Up()).Exit.Should().Be(0);
        }
    }

    [Fact]
    public async Task A_diameter_config_without_the_mip6_dictionaries_is_refused_by_a_trial_smf_before_the_running_one_is_touched()
    {
        var pid = await SmfPidAsync("pgw-3");
        var inventory = $"inventory/{Site.Stack}.yaml";
        var original = Site.Read(inventory);
        try
        {
            Site.Write(inventory, original.Replace("pcscf_group: ims }", "pcscf_group: ims, fd_extensions: [dict_nasreq.fdx, dict_dcca.fdx, dict_dcca_3gpp.fdx] }"));
            var up = await Site.Up();
            up.Exit.Should().Be(1, "the trial start of open5gs-smfd fails without MIP6-Agent-Info");
            (up.Out + up.Err).Should().Contain("open5gs-smfd (as open5gs) refuses");
            (await Site.ShAtAsync("pgw-3", Ip("pgw-3"), "grep -c LoadExtension /etc/freeDiameter/pgw.conf")).Stdout.Trim().Should().Be("6");
            (await SmfPidAsync("pgw-3")).Should().Be(pid, "the running SMF is not touched");
        }
        finally
        {
            Site.Write(inventory, original);
            (await Site.Up()).Exit.Should().Be(0);
        }
    }

    [Fact]
    public async Task After_up_preview_expects_no_changes()
    {
        var r = await Site.Preview(expectNoChanges: true);
        r.Exit.Should().Be(0, r.Out + r.Err);
    }
}
