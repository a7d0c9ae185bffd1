using AwesomeAssertions;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Resources;
using Deploy.Core.Transport;
using static Deploy.Integration.Tests.ResourceTriple;

namespace Deploy.Integration.Tests;

/// <summary>
/// The service resource on both inits of the lab: kamailio-2 boots systemd (reached as the sudo user), kamailio-3 runs
/// init.d scripts. check → apply → apply again for a service that must run and for one that must not; under systemd
/// a restart gives a new main process, a masked unit cannot be started, and a start that fails shows the unit's journal.
/// </summary>
[Collection("lab")]
public sealed class ServiceTripleSpecs(RolledOutLab lab)
{
    private const string Systemd = "kamailio-2";
    private const string Sysv = "kamailio-3";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Task<IHostTransport> ConnectAsync(string host) =>
        lab.Site.ConnectAsync(host, host == Systemd ? "10.212.0.12" : "10.212.0.13");

    private const string Unit = """
        rm -f /etc/systemd/system/nfd-triple.service
        printf '[Unit]\nDescription=nf-deploy test daemon\n[Service]\nType=simple\nExecStart=/bin/sleep 100000\n[Install]\nWantedBy=multi-user.target\n' \
          > /etc/systemd/system/nfd-triple.service
        systemctl daemon-reload; systemctl disable --now nfd-triple.service 2>/dev/null; systemctl unmask nfd-triple.service 2>/dev/null; true
        """;

    private const string InitScript = """
        cat > /etc/init.d/nfd-triple <<'EOF'
        #!/bin/sh
        ### BEGIN INIT INFO
        # Provides:          nfd-triple
        # Required-Start:    $remote_fs
        # Required-Stop:     $remote_fs
        # Default-Start:     2 3 4 5
        # Default-Stop:      0 1 6
        # Short-Description: test daemon
        ### END INIT INFO
        PF=/run/nfd-triple.pid
        case "$1" in
          start) start-stop-daemon --start --background --make-pidfile --pidfile $PF --exec /bin/sleep -- 100000 ;;
          stop) start-stop-daemon --stop --pidfile $PF --remove-pidfile --retry 5 || true ;;
          restart) $0 stop; $0 start ;;
          status) start-stop-daemon --status --pidfile $PF ;;
        esac
        EOF
        chmod 755 /etc/init.d/nfd-triple
        """;

    [Fact]
    public async Task A_stopped_systemd_unit_is_started_enabled_and_a_notified_restart_gives_it_a_new_main_process()
    {
        await using var t = await ConnectAsync(Systemd);
        (await t.RunAsync("cat /proc/1/comm", Ct)).Stdout.Trim().Should().Be("systemd");
        await t.RunAsync(Unit, Ct);
        var spec = new ServiceSpec("nfd-triple") { Host = Systemd, Name = "nfd-triple" };

        var live = await TripleAsync(t, spec, StepOp.Update, "systemctl is-active nfd-triple; systemctl is-enabled nfd-triple; true");
        live["active"].Should().Be("1");
        live["enabled"].Should().Be("1");
        (await t.RunAsync("systemctl is-enabled nfd-triple", Ct)).Stdout.Trim().Should().Be("enabled", "read live, as systemctl says");

        var (before, facts) = await ReadAsync(t, spec);
        var restart = new ResourceDiff(StepOp.Update, []) { Triggers = [new StepTrigger(TriggerKind.Restart, "/etc/nfd-triple.conf changed")] };
        var after = await Providers[spec.Type].ApplyAsync(spec, restart, new HostRun(t, facts), Ct);
        after["pid"].Should().NotBe(before!["pid"], "a restart gives a new main process").And.NotBe("0");
        (await t.RunAsync("systemctl show -p MainPID --value nfd-triple", Ct)).Stdout.Trim().Should().Be(after["pid"]);

        await Providers[spec.Type].DeleteAsync(spec.Identity, new HostRun(t, facts), Ct);
        var (gone, _) = await ReadAsync(t, spec);
        gone!["active"].Should().Be("0", "deleting a service stops it");
        gone["enabled"].Should().Be("0", "and disables it at boot");
        await t.RunAsync("rm -f /etc/systemd/system/nfd-triple.service; systemctl daemon-reload", Ct);
    }

    [Theory]
    [InlineData(Systemd)]
    [InlineData(Sysv)]
    public async Task A_service_that_must_not_run_is_stopped_and_disabled_then_left_alone(string host)
    {
        await using var t = await ConnectAsync(host);
        await t.RunAsync(host == Systemd
            ? Unit + "\nsystemctl enable --now nfd-triple.service"
            : InitScript + "\nupdate-rc.d nfd-triple defaults >/dev/null; /etc/init.d/nfd-triple start", Ct);
        var spec = new ServiceSpec("nfd-triple") { Host = host, Name = "nfd-triple", PidFile = host == Sysv ? "/run/nfd-triple.pid" : null, Running = false, Enabled = false };
        var (running, _) = await ReadAsync(t, spec);
        running!["active"].Should().Be("1");

        var live = await TripleAsync(t, spec, StepOp.Update);

        live["active"].Should().Be("0");
        live["enabled"].Should().Be("0");
        (await t.RunAsync("pgrep -f 'sleep 100000' || echo none", Ct)).Stdout.Trim().Should().Be("none", "the process is gone");
        await t.RunAsync(host == Systemd
            ? "rm -f /etc/systemd/system/nfd-triple.service; systemctl daemon-reload"
            : "update-rc.d -f nfd-triple remove >/dev/null; rm -f /etc/init.d/nfd-triple", Ct);
    }

    [Fact]
    public async Task A_masked_systemd_unit_is_stopped_and_cannot_be_started_by_hand()
    {
        await using var t = await ConnectAsync(Systemd);
        // a unit from a package (in /lib: one in /etc/systemd/system cannot be masked, the link would replace it)
        await t.RunAsync(Unit.Replace("/etc/systemd/system/", "/lib/systemd/system/") + "\nsystemctl enable --now nfd-triple.service", Ct);
        var spec = new ServiceSpec("nfd-triple") { Host = Systemd, Name = "nfd-triple", Running = false, Enabled = false, Masked = true };

        var live = await TripleAsync(t, spec, StepOp.Update);

        live["masked"].Should().Be("1");
        live["active"].Should().Be("0");
        var start = await t.RunAsync("systemctl start nfd-triple", Ct);
        start.Ok.Should().BeFalse();
        start.Stderr.Should().Contain("masked");
        await t.RunAsync("systemctl unmask nfd-triple; rm -f /lib/systemd/system/nfd-triple.service; systemctl daemon-reload", Ct);
    }

    [Fact]
    public async Task A_systemd_unit_that_fails_to_start_is_an_error_with_the_last_lines_of_its_journal()
    {
        await using var t = await ConnectAsync(Systemd);
        await t.RunAsync("""
            printf '[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sh -c "echo nfd-broken: cannot bind 192.0.2.1:5060 >&2; exit 1"\n[Install]\nWantedBy=multi-user.target\n' \
              > /etc/systemd/system/nfd-broken.service
            systemctl daemon-reload
            """, Ct);
        var spec = new ServiceSpec("nfd-broken") { Host = Systemd, Name = "nfd-broken" };
        var (live, facts) = await ReadAsync(t, spec);

        var apply = () => Providers[spec.Type].ApplyAsync(spec, Providers[spec.Type].Diff(spec, live), new HostRun(t, facts), Ct);

        var error = (await apply.Should().ThrowAsync<ResourceException>()).Which.Message;
        error.Should().Contain("kamailio-2").And.Contain("service nfd-broken")
            .And.Contain("journalctl -u nfd-broken.service").And.Contain("nfd-broken: cannot bind 192.0.2.1:5060");
        await t.RunAsync("systemctl disable nfd-broken 2>/dev/null; rm -f /etc/systemd/system/nfd-broken.service; systemctl daemon-reload; systemctl reset-failed", Ct);
    }
}
