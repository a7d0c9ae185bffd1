using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using AwesomeAssertions;
using Deploy.Core.Model;
using Deploy.Core.Transport;
using Xunit;

namespace Deploy.Transport.Tests;

/// <summary>
/// SSH as operators use it, against real sshd on 127.0.0.1: keys held by an ssh-agent, keys with a passphrase, one
/// shared connection per bastion (and a bastion that is down reported once), a silent host's wait said and bounded.
/// </summary>
public sealed class SshOperatorSpecs(SshFixture lab) : IClassFixture<SshFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static SshConnectOptions Options(string? agentSocket = null) => new()
    {
        ConnectTimeout = TimeSpan.FromSeconds(20), // generous for a loaded machine; the silent host sets its own 1 s
        MaxConnectAttempts = 3,
        RetryBaseDelay = TimeSpan.FromMilliseconds(20),
        RetryMaxDelay = TimeSpan.FromMilliseconds(200),
        AgentSocket = agentSocket,
        DefaultKeyFiles = [],
    };

    private string NewDir()
    {
        var dir = Path.Combine(lab.Dir, "op-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    [Theory]
    [InlineData("ed25519")]
    [InlineData("rsa")]
    [InlineData("ecdsa")]
    public async Task A_key_held_by_the_ssh_agent_logs_in_with_no_key_file_configured(string type)
    {
        var dir = NewDir();
        var stranger = await Tool.KeygenAsync(Path.Combine(dir, "stranger"), "ed25519", Ct);
        var key = await Tool.KeygenAsync(Path.Combine(dir, "held"), type, Ct);
        var authorized = Path.Combine(dir, "authorized_keys");
        await File.WriteAllTextAsync(authorized, await File.ReadAllTextAsync(key + ".pub", Ct), Ct);
        await using var server = await Sshd.StartAsync(dir, "agent-sshd", authorized, Ct);
        await using var agent = await Agent.StartAsync(dir, Ct);
        await agent.AddAsync(stranger, Ct); // offered first and refused: the agent's other key is tried next
        await agent.AddAsync(key, Ct);
        File.Delete(key); // the private key lives in the agent only

        var connector = new SshHostConnector(lab.NewKnownHostsPath(), Options(agent.Socket));
        await using var host = await connector.ConnectAsync(new HostConnection("agented", new SshEndpoint("127.0.0.1", server.Port, "root", null)), Ct);

        (await host.RunAsync("echo signed-by-agent", Ct)).Stdout.Should().Be("signed-by-agent\n");
    }

    [Fact]
    public async Task With_no_key_configured_and_no_agent_the_error_says_what_to_do()
    {
        var connector = new SshHostConnector(lab.NewKnownHostsPath(), Options());

        var connect = () => connector.ConnectAsync(new HostConnection("keyless", new SshEndpoint("127.0.0.1", lab.Server.Port, "root", null)), Ct);

        (await connect.Should().ThrowAsync<DeployException>()).Which.Message.Should().Be(
            "host keyless: no SSH key to offer: set ssh: key in the inventory (or IdentityFile in ~/.ssh/config), " +
            "or start an ssh-agent (SSH_AUTH_SOCK is not set)");
    }

    [Fact]
    public async Task A_passphrase_key_logs_in_with_its_passphrase_from_an_environment_variable_or_a_file()
    {
        var (key, server) = await PassphraseServerAsync("correct horse battery");
        await using var _ = server;
        var variable = "NFD_SPEC_PASSPHRASE_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        Environment.SetEnvironmentVariable(variable, "correct horse battery");
        var file = Path.Combine(Path.GetDirectoryName(key)!, "passphrase");
        await File.WriteAllTextAsync(file, "correct horse battery\n", Ct);
        var connector = new SshHostConnector(lab.NewKnownHostsPath(), Options());

        foreach (var passphrase in new[] { new SshKeyPassphrase(variable, null), new SshKeyPassphrase(null, file) })
        {
            var endpoint = new SshEndpoint("127.0.0.1", server.Port, "root", key) { Passphrase = passphrase };
            await using var host = await connector.ConnectAsync(new HostConnection("locked", endpoint), Ct);
            (await host.RunAsync("echo unlocked", Ct)).Stdout.Should().Be("unlocked\n", passphrase.Source);
        }
    }

    [Fact]
    public async Task A_wrong_or_missing_passphrase_is_an_error_naming_the_key_and_where_the_passphrase_was_looked_for()
    {
        var (key, server) = await PassphraseServerAsync("right one");
        await using var _ = server;
        var unset = "NFD_SPEC_UNSET_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        var wrong = "NFD_SPEC_WRONG_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        Environment.SetEnvironmentVariable(wrong, "wrong one");
        var connector = new SshHostConnector(lab.NewKnownHostsPath(), Options());
        Task<IHostTransport> Connect(SshKeyPassphrase? passphrase) => connector.ConnectAsync(
            new HostConnection("locked", new SshEndpoint("127.0.0.1", server.Port, "root", key) { Passphrase = passphrase }), Ct);

        (await FluentActions.Awaiting(() => Connect(new SshKeyPassphrase(unset, null))).Should().ThrowAsync<DeployException>())
            .Which.Message.Should().Be($"host locked: SSH key {key} needs its passphrase from environment variable {unset}, which is not set");
        (await FluentActions.Awaiting(() => Connect(new SshKeyPassphrase(wrong, null))).Should().ThrowAsync<DeployException>())
            .Which.Message.Should().StartWith($"host locked: cannot read SSH key {key} with the passphrase from environment variable {wrong}: wrong passphrase");
        (await FluentActions.Awaiting(() => Connect(null)).Should().ThrowAsync<DeployException>())
            .Which.Message.Should().Be($"host locked: SSH key {key} is protected by a passphrase: name where it is with " +
                "ssh: key_passphrase_env (an environment variable) or key_passphrase_file, or add the key to an ssh-agent");
    }

    [Fact]
    public async Task Hosts_behind_one_bastion_share_one_connection_to_it()
    {
        await using var bastion = await lab.StartServerAsync("shared-bastion", Ct, allowTcpForwarding: true);
        await using var second = await lab.StartServerAsync("second-target", Ct);
        var connector = new SshHostConnector(lab.NewKnownHostsPath(), Options());
        var jump = lab.Endpoint(bastion) with { Name = "b1" };
        var connections = Enumerable.Range(1, 6).Select(i => new HostConnection($"h{i}", lab.Endpoint(i % 2 == 0 ? lab.Server : second), jump));

        var hosts = await Task.WhenAll(connections.Select(c => connector.ConnectAsync(c, Ct)));
        var outputs = await Task.WhenAll(hosts.Select(h => h.RunAsync("echo through", Ct)));
        foreach (var host in hosts) await host.DisposeAsync();

        outputs.Select(o => o.Stdout).Should().AllBe("through\n");
        connector.BastionConnectionsOpened.Should().Be(1);
        Logins(bastion).Should().Be(1, "six hosts made one login on the bastion:\n" + bastion.Log);
    }

    [Fact]
    public async Task A_bastion_that_is_down_fails_every_host_behind_it_with_one_cause_tried_once()
    {
        var retries = new ConcurrentBag<SshRetryNotice>();
        var connector = new SshHostConnector(lab.NewKnownHostsPath(), Options() with { OnRetry = retries.Add });
        var port = Tool.FreeLoopbackPort();
        var jump = new SshEndpoint("127.0.0.1", port, "root", lab.Ed25519Key) { Name = "b1" };

        var failures = await Task.WhenAll(Enumerable.Range(1, 4).Select(async i =>
        {
            var connect = () => connector.ConnectAsync(new HostConnection($"h{i}", lab.Endpoint(lab.Server), jump), Ct);
            return (await connect.Should().ThrowAsync<BastionUnreachableException>()).Which;
        }));

        failures.Select(f => f.Message).Should().BeEquivalentTo(Enumerable.Range(1, 4).Select(i => $"host h{i}: not read: bastion b1 unreachable"));
        failures.Select(f => f.Reason).Distinct().Should().Equal($"jump host 127.0.0.1:{port}: connection refused (gave up after 3 attempts)");
        retries.Select(r => (r.Host, r.Attempt)).Should().BeEquivalentTo(new[] { ("b1", 1), ("b1", 2) }, "the bastion was tried once, not per host");
        connector.BastionConnectionsOpened.Should().Be(1);
    }

    [Fact]
    public async Task A_silent_host_says_what_it_waits_for_and_gives_up_at_its_own_timeout()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start(); // accepts (the kernel's backlog) and never says a word
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        var attempts = new ConcurrentQueue<SshAttemptNotice>();
        var connector = new SshHostConnector(lab.NewKnownHostsPath(), Options() with { OnAttempt = attempts.Enqueue });
        var endpoint = new SshEndpoint("127.0.0.1", port, "root", lab.Ed25519Key) { ConnectTimeout = TimeSpan.FromSeconds(1), ConnectAttempts = 2 };

        var connect = () => connector.ConnectAsync(new HostConnection("silent", endpoint), Ct);

        (await connect.Should().ThrowAsync<HostUnreachableException>()).Which.Message
            .Should().Be($"host silent: unreachable: 127.0.0.1:{port}: no SSH answer within 1 s (gave up after 2 attempts)");
        attempts.Should().Equal(
            new SshAttemptNotice("silent", $"127.0.0.1:{port}", 1, 2, TimeSpan.FromSeconds(1)),
            new SshAttemptNotice("silent", $"127.0.0.1:{port}", 2, 2, TimeSpan.FromSeconds(1)));
    }

    private static int Logins(Sshd server) =>
        server.Log.Split('\n').Count(line => line.Contains("Accepted publickey for", StringComparison.Ordinal));

    private async Task<(string Key, Sshd Server)> PassphraseServerAsync(string passphrase)
    {
        var dir = NewDir();
        var key = Path.Combine(dir, "locked_ed25519");
        await Tool.RunAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", passphrase, "-C", "nf-deploy-locked", "-f", key], Ct);
        var authorized = Path.Combine(dir, "authorized_keys");
        await File.WriteAllTextAsync(authorized, await File.ReadAllTextAsync(key + ".pub", Ct), Ct);
        return (key, await Sshd.StartAsync(dir, "locked-sshd", authorized, Ct));
    }

    /// <summary>An ssh-agent of the test's own (<c>ssh-agent -D -a sock</c>), stopped with the test.</summary>
    private sealed class Agent : IAsyncDisposable
    {
        private readonly Process _process;

        private Agent(Process process, string socket)
        {
            _process = process;
            Socket = socket;
        }

        public string Socket { get; }

        public static async Task<Agent> StartAsync(string dir, CancellationToken ct)
        {
            var socket = Path.Combine(dir, "agent.sock");
            var psi = new ProcessStartInfo("ssh-agent") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { "-D", "-a", socket }) psi.ArgumentList.Add(arg);
            var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start ssh-agent");
            var agent = new Agent(process, socket);
            while (!File.Exists(socket))
            {
                if (process.HasExited) throw new InvalidOperationException($"ssh-agent exited: {await process.StandardError.ReadToEndAsync(ct)}");
                await Task.Delay(20, ct);
            }
            return agent;
        }

        public async Task AddAsync(string key, CancellationToken ct)
        {
            var psi = new ProcessStartInfo("ssh-add") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add(key);
            psi.Environment["SSH_AUTH_SOCK"] = Socket;
            using var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start ssh-add");
            await process.WaitForExitAsync(ct);
            if (process.ExitCode != 0) throw new InvalidOperationException($"ssh-add {key}: {await process.StandardError.ReadToEndAsync(ct)}");
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited) _process.Kill();
            await _process.WaitForExitAsync(CancellationToken.None);
            _process.Dispose();
        }
    }
}
