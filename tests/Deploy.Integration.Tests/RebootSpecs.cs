using AwesomeAssertions;

namespace Deploy.Integration.Tests;

/// <summary>A reboot (the lab host's container restarted) brings every service of the host back by itself: nothing
/// drifted (preview --expect-no-changes) and `./deploy health` passes, with no `up` in between.</summary>
public static class Reboot
{
    public static async Task ShowsEveryHostBackAsync(LabSite site, params (string Host, string Ip)[] hosts)
    {
        var started = new Dictionary<string, DateTime>();
        foreach (var (host, _) in hosts) started[host] = await site.StartedAtAsync(host);

        await Task.WhenAll(hosts.Select(h => site.RebootAsync(h.Host, h.Ip)));

        foreach (var (host, _) in hosts)
            (await site.StartedAtAsync(host)).Should().BeAfter(started[host], $"{host} was rebooted");
        // services come back at boot: no step to take (the boot itself started them), and every check passes
        var preview = await site.Preview(expectNoChanges: true);
        preview.Exit.Should().Be(0, preview.Out + preview.Err);
        var health = await site.Health();
        health.Exit.Should().Be(0, health.Out + health.Err);
        // the health table, one line per host when not on a terminal: HOST RESULT DETAIL
        foreach (var (host, _) in hosts) health.Out.Should().MatchRegex($@"(?m)^{host}\s+healthy\s+\d+ checks");
    }
}

[Collection("lab")]
public sealed class RebootSpecs(RolledOutLab lab)
{
    [Fact]
    public async Task A_rebooted_sip_proxy_pcrf_and_pgw_on_systemd_come_back_healthy_without_a_run()
    {
        var p = lab.Site.SubnetPrefix;
        await Reboot.ShowsEveryHostBackAsync(lab.Site, ("kamailio-1", $"{p}.11"), ("pcrf-1", $"{p}.31"), ("pgw-1", $"{p}.41"));
    }

    [Fact]
    public async Task A_rebooted_sysv_sip_proxy_starts_its_enabled_init_scripts_and_comes_back_healthy_without_a_run()
    {
        await Reboot.ShowsEveryHostBackAsync(lab.Site, ("kamailio-3", $"{lab.Site.SubnetPrefix}.13"));
        (await lab.Site.Sh("kamailio-3", "cat /proc/1/comm; kill -0 $(cat /run/kamailio/kamailio.pid) && echo kamailio-running")).Should().Contain("kamailio-running").And.NotStartWith("systemd");
    }
}
