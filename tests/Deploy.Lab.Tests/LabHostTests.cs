using System.Diagnostics;
using System.Net;
using AwesomeAssertions;
using Deploy.Core.Lab;
using Xunit;

namespace Deploy.Lab.Tests;

public sealed class LabHostFixture() : LabFixture(subnetOctet: 1);

public sealed class LabHostTests(LabHostFixture lab) : IClassFixture<LabHostFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_lab_host_is_created_on_an_internal_network_and_answers_ssh()
    {
        var spec = lab.Host("sip1", 11);

        var host = await lab.Provider.EnsureHostAsync(lab.Spec, spec, Ct);

        host.Should().BeEquivalentTo(new { Name = "sip1", Address = spec.Address, Running = true });
        (await SshBanner.ReadAsync(IPAddress.Parse(spec.Address), TimeSpan.FromSeconds(5), Ct))
            .Should().StartWith("SSH-2.0-");
        var container = await lab.InspectAsync(host);
        container.Name.Should().Be($"/nfd-{lab.Stack}-sip1");
        container.Config.Hostname.Should().Be("sip1");
        container.Config.Labels.Should().Contain("nf-deploy.stack", lab.Stack).And.Contain("nf-deploy.host", "sip1");
        container.HostConfig.CapAdd.Should().Contain("SYS_PTRACE");
        container.HostConfig.RestartPolicy.Name.Should().Be(Docker.DotNet.Models.RestartPolicyKind.UnlessStopped);
        container.NetworkSettings.Networks.Should().ContainKey(lab.Network)
            .WhoseValue.IPAddress.Should().Be(spec.Address);
        var network = await lab.Docker.Networks.InspectNetworkAsync(lab.Network, Ct);
        network.Internal.Should().BeTrue();
        network.Labels.Should().Contain("nf-deploy.stack", lab.Stack);
        network.IPAM.Config.Should().ContainSingle().Which.Should().BeEquivalentTo(
            new { Subnet = lab.Spec.Subnet, Gateway = lab.Gateway });
    }

    [Fact]
    public async Task Ensuring_an_existing_host_again_changes_nothing()
    {
        var spec = lab.Host("idem", 12);
        var first = await lab.Provider.EnsureHostAsync(lab.Spec, spec, Ct);
        var startedAt = (await lab.InspectAsync(first)).State.StartedAt;

        var again = await lab.Provider.EnsureHostAsync(lab.Spec, spec, Ct);

        again.Should().Be(first);
        (await lab.InspectAsync(again)).State.StartedAt.Should().Be(startedAt);
    }

    [Fact]
    public async Task A_stopped_lab_host_is_started_again_by_ensure()
    {
        var spec = lab.Host("stopped", 13);
        var first = await lab.Provider.EnsureHostAsync(lab.Spec, spec, Ct);
        await lab.Docker.Containers.StopContainerAsync(first.ContainerId,
            new Docker.DotNet.Models.ContainerStopParameters { WaitBeforeKillSeconds = 5 }, Ct);
        (await lab.Provider.ReadAsync(lab.Stack, Ct)).Should().ContainSingle(h => h.Name == "stopped")
            .Which.Should().Be(first with { Running = false });

        var again = await lab.Provider.EnsureHostAsync(lab.Spec, spec, Ct);

        again.Should().Be(first);
        (await SshBanner.ReadAsync(IPAddress.Parse(spec.Address), TimeSpan.FromSeconds(5), Ct))
            .Should().StartWith("SSH-2.0-");
    }

    [Fact]
    public async Task The_login_user_logs_in_with_the_key_and_has_passwordless_sudo()
    {
        var spec = lab.Host("login", 14, user: "deploy");
        var host = await lab.Provider.EnsureHostAsync(lab.Spec, spec, Ct);

        (await SshAsync("deploy", spec.Address, "sudo -n id -u && hostname")).Should().Be("0\nlogin\n");
        (await SshAsync("root", spec.Address, "id -un")).Should().Be("root\n");
        var (code, files) = await lab.ExecAsync(host,
            "stat -c '%a %U %n' /root/.ssh /root/.ssh/authorized_keys /home/deploy/.ssh /home/deploy/.ssh/authorized_keys " +
            "/etc/sudoers.d/nf-deploy && cat /etc/apt/apt.conf.d/01nf-deploy-proxy", Ct);
        code.Should().Be(0, files);
        files.Should().Be(
            "700 root /root/.ssh\n600 root /root/.ssh/authorized_keys\n" +
            "700 deploy /home/deploy/.ssh\n600 deploy /home/deploy/.ssh/authorized_keys\n440 root /etc/sudoers.d/nf-deploy\n" +
            $"Acquire::http::Proxy \"http://{lab.Gateway}:3142\";\nAcquire::http::Proxy::{lab.Gateway} \"DIRECT\";\n");
    }

    [Fact]
    public async Task Each_lab_host_has_its_own_ssh_host_key()
    {
        var a = await lab.Provider.EnsureHostAsync(lab.Spec, lab.Host("keys-a", 15), Ct);
        var b = await lab.Provider.EnsureHostAsync(lab.Spec, lab.Host("keys-b", 16), Ct);

        const string fingerprint = "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub";
        var keyA = await lab.ExecAsync(a, fingerprint, Ct);
        var keyB = await lab.ExecAsync(b, fingerprint, Ct);

        keyA.ExitCode.Should().Be(0, keyA.Output);
        keyA.Output.Should().NotBe(keyB.Output);
    }

    [Fact]
    public async Task Read_lists_the_hosts_of_the_stack_and_delete_removes_only_the_one_named()
    {
        var keep = await lab.Provider.EnsureHostAsync(lab.Spec, lab.Host("keep", 17), Ct);
        var gone = await lab.Provider.EnsureHostAsync(lab.Spec, lab.Host("gone", 18), Ct);
        (await lab.Provider.ReadAsync(lab.Stack, Ct)).Should().Contain([keep, gone]);

        await lab.Provider.DeleteHostAsync(lab.Stack, "gone", Ct);

        var after = await lab.Provider.ReadAsync(lab.Stack, Ct);
        after.Should().Contain(keep).And.NotContain(h => h.Name == "gone");
        after.Should().BeInAscendingOrder(h => h.Name, StringComparer.Ordinal);
        (await lab.Provider.ReadAsync($"{lab.Stack}-other", Ct)).Should().BeEmpty();
        await lab.Provider.DeleteHostAsync(lab.Stack, "gone", Ct); // deleting what is gone is not an error
    }

    [Fact]
    public async Task Apt_on_a_lab_host_installs_kamailio_from_the_local_signed_mirror_through_the_proxy()
    {
        var mirror = "/var/lib/nf-deploy/mirror/kamailio56/dists/bookworm/InRelease";
        File.Exists(mirror).Should().BeTrue($"{mirror} is made by scripts/setup-controller.sh; run it first");
        var host = await lab.Provider.EnsureHostAsync(lab.Spec, lab.Host("apt", 19), Ct);
        var gw = lab.Gateway;
        var clock = Stopwatch.StartNew();

        var (code, output) = await lab.ExecAsync(host, $"""
            set -e
            export DEBIAN_FRONTEND=noninteractive
            /usr/lib/apt/apt-helper download-file http://{gw}:3142/nfd-mirror/kamailiodebkey.gpg /etc/apt/keyrings/kamailio.asc
            chmod 0644 /etc/apt/keyrings/kamailio.asc
            # listed before Debian: the mirror holds Debian's very .debs, and apt fetches a version from the first source
            (echo 'deb [signed-by=/etc/apt/keyrings/kamailio.asc] http://{gw}:3142/nfd-mirror/kamailio56 bookworm main'
             cat /etc/apt/sources.list) > /tmp/sources.list
            mv /tmp/sources.list /etc/apt/sources.list
            apt-get update
            apt-get install -y --no-install-recommends kamailio
            kamailio -v
            """, Ct);

        code.Should().Be(0, output);
        output.Should().Contain($"http://{gw}:3142/nfd-mirror/kamailio56 bookworm InRelease")
            .And.Contain($"http://{gw}:3142/nfd-mirror/kamailio56 bookworm/main amd64 kamailio amd64 5.6.3")
            .And.Contain("kamailio 5.6.3")
            .And.NotContain("NO_PUBKEY").And.NotContain("not signed");
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromMinutes(3));
    }

    private async Task<string> SshAsync(string user, string address, string command)
    {
        var psi = new ProcessStartInfo("ssh",
        [
            "-i", lab.PrivateKeyPath, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10",
            $"{user}@{address}", command,
        ])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var ssh = Process.Start(psi)!;
        var stdout = ssh.StandardOutput.ReadToEndAsync(Ct);
        var stderr = ssh.StandardError.ReadToEndAsync(Ct);
        await ssh.WaitForExitAsync(Ct);
        ssh.ExitCode.Should().Be(0, await stderr);
        return await stdout;
    }
}
