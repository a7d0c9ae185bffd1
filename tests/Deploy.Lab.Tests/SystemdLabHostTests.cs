using System.Net;
using AwesomeAssertions;
using Deploy.Core.Lab;
using Xunit;

namespace Deploy.Lab.Tests;

public sealed class SystemdLabHostFixture() : LabFixture(subnetOctet: 7);

/// <summary>Lab hosts with <c>init: systemd</c>: systemd is PID 1 (from the cached lab image with systemd), sshd is a unit.</summary>
public sealed class SystemdLabHostTests(SystemdLabHostFixture lab) : IClassFixture<SystemdLabHostFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_systemd_lab_host_boots_systemd_as_pid_1_with_journald_and_sshd_as_units()
    {
        var spec = lab.Host("sd1", 11) with { Init = LabInit.Systemd };

        var host = await lab.Provider.EnsureHostAsync(lab.Spec, spec, Ct);

        (await SshBanner.ReadAsync(IPAddress.Parse(spec.Address), TimeSpan.FromSeconds(5), Ct)).Should().StartWith("SSH-2.0-");
        var container = await lab.InspectAsync(host);
        container.Config.Image.Should().Be(LabFixture.Image + "-systemd");
        container.HostConfig.CapAdd.Should().Contain("SYS_ADMIN");
        container.HostConfig.Init.Should().NotBe(true, "systemd is PID 1, not docker-init");
        var (_, comm) = await lab.ExecAsync(host, "cat /proc/1/comm", Ct);
        comm.Trim().Should().Be("systemd");
        var (_, units) = await lab.ExecAsync(host,
            "for u in systemd-journald ssh dbus; do printf '%s=%s\\n' $u $(systemctl is-active $u); done; systemctl is-enabled ssh", Ct);
        units.Should().Contain("systemd-journald=active").And.Contain("ssh=active").And.Contain("dbus=active").And.EndWith("enabled\n");
    }

    [Fact]
    public async Task A_sysv_lab_host_next_to_it_still_runs_sshd_as_pid_1()
    {
        var host = await lab.Provider.EnsureHostAsync(lab.Spec, lab.Host("sv1", 12), Ct);

        var (_, comm) = await lab.ExecAsync(host, "cat /proc/1/comm; [ -d /run/systemd/system ] && echo systemd || echo no-systemd", Ct);
        comm.Split('\n')[0].Should().NotBe("systemd");
        comm.Should().EndWith("no-systemd\n");
        (await lab.InspectAsync(host)).Config.Image.Should().Be(LabFixture.Image);
    }

    [Fact]
    public async Task A_restarted_systemd_lab_host_comes_back_with_sshd_and_its_enabled_units()
    {
        var spec = lab.Host("sd2", 13) with { Init = LabInit.Systemd };
        var host = await lab.Provider.EnsureHostAsync(lab.Spec, spec, Ct);
        // a unit enabled at boot, as a package would install one
        await lab.ExecAsync(host, """
            printf '[Service]\nExecStart=/bin/sleep infinity\n[Install]\nWantedBy=multi-user.target\n' > /etc/systemd/system/nfd-boot.service
            systemctl daemon-reload && systemctl enable --now nfd-boot.service
            """, Ct);
        var (_, before) = await lab.ExecAsync(host, "systemctl show -p ActiveEnterTimestamp --value nfd-boot", Ct);

        await lab.Docker.Containers.RestartContainerAsync(host.ContainerId, new Docker.DotNet.Models.ContainerRestartParameters { WaitBeforeKillSeconds = 20 }, Ct);

        (await SshBanner.WaitAsync(IPAddress.Parse(spec.Address), TimeSpan.FromSeconds(60), Ct)).Should().BeTrue();
        string state = "";
        for (var i = 0; i < 50 && state != "active"; i++)
        {
            await Task.Delay(200, Ct);
            state = (await lab.ExecAsync(host, "systemctl is-active nfd-boot", Ct)).Output.Trim();
        }
        state.Should().Be("active");
        var (_, after) = await lab.ExecAsync(host, "systemctl show -p ActiveEnterTimestamp --value nfd-boot", Ct);
        after.Trim().Should().NotBeEmpty().And.NotBe(before.Trim(), "the new boot started it again");
    }
}
