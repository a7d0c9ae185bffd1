using Xunit;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using AwesomeAssertions;
using Deploy.Core.Model;
using Deploy.Core.Transport;

namespace Deploy.Transport.Tests;

public sealed class SshHostConnectorTests(SshFixture lab) : IClassFixture<SshFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static SshConnectOptions Fast(Action<SshRetryNotice>? onRetry = null, int attempts = 3) => new()
    {
        ConnectTimeout = TimeSpan.FromSeconds(5),
        MaxConnectAttempts = attempts,
        RetryBaseDelay = TimeSpan.FromMilliseconds(20),
        RetryMaxDelay = TimeSpan.FromMilliseconds(200),
        OnRetry = onRetry,
        AgentSocket = null, // the runner's own ssh-agent, if any, offers nothing here
    };

    private SshHostConnector NewConnector(string? knownHosts = null, SshConnectOptions? options = null) =>
        new(knownHosts ?? lab.NewKnownHostsPath(), options ?? Fast());

    private Task<IHostTransport> ConnectMainAsync(SshHostConnector connector, string? key = null) =>
        connector.ConnectAsync(new HostConnection("main", lab.Endpoint(lab.Server, key)), Ct);

    [Fact]
    public async Task A_script_runs_as_root_over_ssh_with_its_text_on_stdin()
    {
        await using var host = await ConnectMainAsync(NewConnector());
        var marker = "nf-marker-" + Guid.NewGuid().ToString("N");

        var result = await host.RunAsync($"""
            : {marker}
            echo "user=$(id -un)"
            ps -eo args
            """, Ct);

        host.HostName.Should().Be("main");
        result.Ok.Should().BeTrue(result.Stderr);
        result.Stdout.Should().Contain("user=root");
        result.Stdout.Should().Contain("/bin/sh -s", "the remote command is the shell reading its stdin");
        result.Stdout.Should().NotContain(marker, "the script text is never on a command line");
    }

    [Fact]
    public async Task A_failing_script_reports_its_exit_code_output_and_errors()
    {
        await using var host = await ConnectMainAsync(NewConnector());

        var result = await host.RunAsync("echo out\necho err >&2\nexit 7", Ct);

        result.Should().Be(new ExecResult(7, "out\n", "err\n"));
        result.Ok.Should().BeFalse();
    }

    [Fact]
    public async Task The_exit_code_of_a_script_is_that_of_its_last_command()
    {
        await using var host = await ConnectMainAsync(NewConnector());

        (await host.RunAsync("true\nfalse", Ct)).ExitCode.Should().Be(1);
        (await host.RunAsync("false\ntrue", Ct)).ExitCode.Should().Be(0);
        (await host.RunAsync("", Ct)).ExitCode.Should().Be(0);
        (await host.RunAsync("# only a comment", Ct)).ExitCode.Should().Be(0);
    }

    [Fact]
    public async Task A_command_reading_stdin_does_not_swallow_the_rest_of_the_script()
    {
        await using var host = await ConnectMainAsync(NewConnector());

        var result = await host.RunAsync("cat\nread line || echo \"read got eof\"\necho after", Ct);

        result.Stdout.Should().Be("read got eof\nafter\n");
    }

    [Fact]
    public async Task A_script_with_a_syntax_error_runs_nothing()
    {
        await using var host = await ConnectMainAsync(NewConnector());

        var result = await host.RunAsync("echo first\nif then fi\n", Ct);

        result.Ok.Should().BeFalse();
        result.Stdout.Should().BeEmpty("the whole script is parsed before anything runs");
        result.Stderr.Should().Contain("Syntax error");
    }

    [Fact]
    public async Task Many_scripts_run_concurrently_over_one_connection()
    {
        // Each script reports when it started and ended (remote clock); intervals must overlap, but never more than
        // MaxConcurrentScripts at once. (Wall time is a poor measure: sshd starts sessions one after the other,
        // slowly on a loaded machine.)
        var options = Fast() with { MaxConcurrentScripts = 4 };
        await using var host = await ConnectMainAsync(NewConnector(options: options));
        var clock = Stopwatch.StartNew();

        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(i =>
            host.RunAsync($"date +%s.%N\nsleep 3\necho script-{i}\ndate +%s.%N", Ct)));

        results.Should().OnlyContain(r => r.ExitCode == 0);
        var lines = results.Select(r => r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)).ToList();
        lines.Select(l => l[1]).Should().Equal(Enumerable.Range(0, 10).Select(i => $"script-{i}"));
        var intervals = lines.Select(l => (Start: decimal.Parse(l[0], CultureInfo.InvariantCulture), End: decimal.Parse(l[2], CultureInfo.InvariantCulture))).ToList();
        var mostAtOnce = intervals.Max(a => intervals.Count(b => b.Start <= a.Start && a.Start < b.End));
        mostAtOnce.Should().BeInRange(2, 4);
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(30), "run one by one, ten 3 s scripts would take 30 s");
    }

    [Fact]
    public async Task A_large_script_is_carried_intact()
    {
        await using var host = await ConnectMainAsync(NewConnector());
        var content = RandomNumberGenerator.GetBytes(1024 * 1024);
        var base64 = Convert.ToBase64String(content, Base64FormattingOptions.InsertLineBreaks).Replace("\r\n", "\n");
        var script = $"""
            f=$(mktemp)
            base64 -d > "$f" <<'NF_EOF'
            {base64}
            NF_EOF
            sha256sum < "$f" | cut -d' ' -f1
            rm -f "$f"
            """;
        script.Length.Should().BeGreaterThan(1_000_000);

        var result = await host.RunAsync(script, Ct);

        result.Ok.Should().BeTrue(result.Stderr);
        result.Stdout.Trim().Should().Be(Convert.ToHexStringLower(SHA256.HashData(content)));
    }

    [Fact]
    public async Task A_large_output_is_collected_whole()
    {
        await using var host = await ConnectMainAsync(NewConnector());

        var result = await host.RunAsync("head -c 3000000 /dev/zero | tr '\\0' x\nhead -c 100000 /dev/zero | tr '\\0' e >&2", Ct);

        result.Ok.Should().BeTrue();
        result.Stdout.Length.Should().Be(3_000_000);
        result.Stdout.Should().MatchRegex("^x+$");
        result.Stderr.Length.Should().Be(100_000);
    }

    [Fact]
    public async Task Non_ascii_text_survives_the_round_trip()
    {
        await using var host = await ConnectMainAsync(NewConnector());

        var result = await host.RunAsync("printf '%s\\n' 'Grüße — 日本 ✓'", Ct);

        result.Stdout.Should().Be("Grüße — 日本 ✓\n");
    }

    [Fact]
    public async Task A_cancelled_script_returns_promptly_and_the_connection_stays_usable()
    {
        await using var host = await ConnectMainAsync(NewConnector());
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cts.CancelAfter(TimeSpan.FromMilliseconds(300));
        var clock = Stopwatch.StartNew();

        var run = () => host.RunAsync("sleep 30\necho not reached", cts.Token);

        await run.Should().ThrowAsync<OperationCanceledException>();
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10));
        (await host.RunAsync("echo still here", Ct)).Stdout.Should().Be("still here\n");
    }

    [Fact]
    public async Task An_rsa_client_key_is_accepted_like_an_ed25519_one()
    {
        await using var host = await ConnectMainAsync(NewConnector(), lab.RsaKey);

        (await host.RunAsync("echo rsa ok", Ct)).Stdout.Should().Be("rsa ok\n");
    }

    [Fact]
    public async Task The_host_key_is_pinned_on_first_contact_in_openssh_format()
    {
        var knownHosts = lab.NewKnownHostsPath();
        await using (var host = await ConnectMainAsync(NewConnector(knownHosts)))
            (await host.RunAsync("true", Ct)).Ok.Should().BeTrue();

        var hostKey = lab.Server.HostPublicKey.Split(' ');
        (await File.ReadAllLinesAsync(knownHosts, Ct)).Should().Equal($"[127.0.0.1]:{lab.Server.Port} {hostKey[0]} {hostKey[1]}");

        // OpenSSH's own client accepts the file with strict checking.
        var ssh = await Tool.TryRunAsync("ssh", [
            "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", $"UserKnownHostsFile={knownHosts}",
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-i", lab.Ed25519Key, "-p", lab.Server.Port.ToString(),
            "root@127.0.0.1", "echo via-openssh",
        ], Ct);
        ssh.ExitCode.Should().Be(0, ssh.Stderr);
        ssh.Stdout.Should().Be("via-openssh\n");

        // A second contact with the same key is accepted and adds nothing.
        await using (var again = await ConnectMainAsync(NewConnector(knownHosts)))
            (await again.RunAsync("true", Ct)).Ok.Should().BeTrue();
        (await File.ReadAllLinesAsync(knownHosts, Ct)).Should().HaveCount(1);
    }

    [Fact]
    public async Task A_changed_host_key_is_refused_with_a_clear_error()
    {
        await using var server = await lab.StartServerAsync("rebuilt", Ct);
        var knownHosts = lab.NewKnownHostsPath();
        var connection = new HostConnection("rebuilt", lab.Endpoint(server));
        await using (var first = await NewConnector(knownHosts).ConnectAsync(connection, Ct))
            (await first.RunAsync("true", Ct)).Ok.Should().BeTrue();
        var pinned = await server.HostKeyFingerprintAsync(Ct);
        var oldKey = server.HostPublicKey.Split(' ')[1];
        await server.RestartAsync(newHostKey: true, Ct);
        var presented = await server.HostKeyFingerprintAsync(Ct);
        var retries = 0;

        var connect = () => NewConnector(knownHosts, Fast(_ => retries++)).ConnectAsync(connection, Ct);

        var error = (await connect.Should().ThrowAsync<HostKeyMismatchException>()).Which;
        error.Host.Should().Be("rebuilt");
        error.Message.Should().Contain("host rebuilt").And.Contain($"127.0.0.1:{server.Port}")
            .And.Contain(pinned).And.Contain(presented).And.Contain(Path.GetFullPath(knownHosts));
        pinned.Should().StartWith("SHA256:").And.NotBe(presented);
        retries.Should().Be(0, "a changed host key is not a transient failure");
        (await File.ReadAllTextAsync(knownHosts, Ct)).Should().Contain(oldKey, "the file is left as it was")
            .And.NotContain(server.HostPublicKey.Split(' ')[1]);
    }

    [Fact]
    public async Task A_forgotten_host_is_pinned_anew_after_a_rebuild()
    {
        await using var server = await lab.StartServerAsync("recreated", Ct);
        var knownHosts = lab.NewKnownHostsPath();
        var connection = new HostConnection("recreated", lab.Endpoint(server));
        await using (await NewConnector(knownHosts).ConnectAsync(connection, Ct))
        {
        }
        await server.RestartAsync(newHostKey: true, Ct);
        var connector = NewConnector(knownHosts);

        connector.KnownHosts.Forget("127.0.0.1", server.Port);
        await using var host = await connector.ConnectAsync(connection, Ct);

        (await host.RunAsync("echo rebuilt ok", Ct)).Stdout.Should().Be("rebuilt ok\n");
        var newKey = server.HostPublicKey.Split(' ');
        (await File.ReadAllLinesAsync(knownHosts, Ct)).Should().Equal($"[127.0.0.1]:{server.Port} {newKey[0]} {newKey[1]}");
    }

    [Fact]
    public async Task A_host_behind_a_jump_host_is_reached_through_it()
    {
        await using var bastion = await lab.StartServerAsync("bastion", Ct, logLevel: "DEBUG1", allowTcpForwarding: true);
        await using var target = await lab.StartServerAsync("inner", Ct);
        var knownHosts = lab.NewKnownHostsPath();
        var connection = new HostConnection("inner", lab.Endpoint(target), Jump: lab.Endpoint(bastion, lab.RsaKey));

        await using (var host = await NewConnector(knownHosts).ConnectAsync(connection, Ct))
        {
            var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => host.RunAsync($"echo through-{i}", Ct)));
            results.Select(r => r.Stdout).Should().Equal("through-0\n", "through-1\n", "through-2\n", "through-3\n");
        }

        bastion.Log.Should().Contain($"target 127.0.0.1 port {target.Port}", "the bastion opened the tunnel to the target");
        var lines = await File.ReadAllLinesAsync(knownHosts, Ct);
        lines.Should().BeEquivalentTo(
            $"[127.0.0.1]:{bastion.Port} ssh-ed25519 {bastion.HostPublicKey.Split(' ')[1]}",
            $"[127.0.0.1]:{target.Port} ssh-ed25519 {target.HostPublicKey.Split(' ')[1]}");
    }

    [Fact]
    public async Task A_changed_jump_host_key_is_refused_too()
    {
        await using var bastion = await lab.StartServerAsync("bastion2", Ct, allowTcpForwarding: true);
        var knownHosts = lab.NewKnownHostsPath();
        var connection = new HostConnection("behind", lab.Endpoint(lab.Server), Jump: lab.Endpoint(bastion));
        await using (await NewConnector(knownHosts).ConnectAsync(connection, Ct))
        {
        }
        await bastion.RestartAsync(newHostKey: true, Ct);

        var connect = () => NewConnector(knownHosts).ConnectAsync(connection, Ct);

        (await connect.Should().ThrowAsync<HostKeyMismatchException>()).Which.Message
            .Should().Contain("(jump host 127.0.0.1:" + bastion.Port + "): SSH host key changed");
    }



    [Fact]
    public async Task A_target_the_jump_host_cannot_reach_is_reported_unreachable()
    {
        await using var bastion = await lab.StartServerAsync("bastion3", Ct, allowTcpForwarding: true);
        var port = Tool.FreeLoopbackPort();
        var connection = new HostConnection("lost", new SshEndpoint("127.0.0.1", port, "root", lab.Ed25519Key), Jump: lab.Endpoint(bastion));

        var connect = () => NewConnector(options: Fast(attempts: 2)).ConnectAsync(connection, Ct);

        (await connect.Should().ThrowAsync<HostUnreachableException>()).Which.Message
            .Should().StartWith($"host lost: unreachable: 127.0.0.1:{port} via jump host 127.0.0.1:{bastion.Port}:")
            .And.EndWith("(gave up after 2 attempts)");
    }

    [Fact]
    public async Task A_jump_host_that_forbids_forwarding_cannot_tunnel()
    {
        await using var bastion = await lab.StartServerAsync("closed-bastion", Ct, allowTcpForwarding: false);
        var connection = new HostConnection("inner", lab.Endpoint(lab.Server), Jump: lab.Endpoint(bastion));

        var connect = () => NewConnector(options: Fast(attempts: 1)).ConnectAsync(connection, Ct);

        (await connect.Should().ThrowAsync<HostUnreachableException>()).Which.Message
            .Should().Contain($"via jump host 127.0.0.1:{bastion.Port}");
    }




    [Fact]
    public async Task Connections_opened_in_parallel_pin_each_host_once()
    {
        await using var second = await lab.StartServerAsync("second", Ct);
        var knownHosts = lab.NewKnownHostsPath();
        var connector = NewConnector(knownHosts);
        var connections = Enumerable.Range(0, 12).Select(i =>
            new HostConnection($"h{i}", lab.Endpoint(i % 2 == 0 ? lab.Server : second, i % 3 == 0 ? lab.RsaKey : null)));

        var hosts = await Task.WhenAll(connections.Select(c => connector.ConnectAsync(c, Ct)));
        try
        {
            var results = await Task.WhenAll(hosts.Select(h => h.RunAsync("echo $((6 * 7))", Ct)));
            results.Should().OnlyContain(r => r.Stdout == "42\n");
        }
        finally
        {
            foreach (var h in hosts)
                await h.DisposeAsync();
        }

        (await File.ReadAllLinesAsync(knownHosts, Ct)).Should().BeEquivalentTo(
            $"[127.0.0.1]:{lab.Server.Port} ssh-ed25519 {lab.Server.HostPublicKey.Split(' ')[1]}",
            $"[127.0.0.1]:{second.Port} ssh-ed25519 {second.HostPublicKey.Split(' ')[1]}");
    }

    [Fact]
    public async Task An_rsa_host_key_is_pinned_with_its_openssh_key_type()
    {
        await using var server = await lab.StartServerAsync("rsa-host", Ct, hostKeyType: "rsa");
        var knownHosts = lab.NewKnownHostsPath();

        await using (await NewConnector(knownHosts).ConnectAsync(new HostConnection("rsa-host", lab.Endpoint(server)), Ct))
        {
        }
        await using (await NewConnector(knownHosts).ConnectAsync(new HostConnection("rsa-host", lab.Endpoint(server)), Ct))
        {
        }

        var key = server.HostPublicKey.Split(' ');
        key[0].Should().Be("ssh-rsa");
        (await File.ReadAllLinesAsync(knownHosts, Ct)).Should().Equal($"[127.0.0.1]:{server.Port} ssh-rsa {key[1]}");
    }

    [Fact]
    public async Task A_closed_transport_refuses_further_scripts()
    {
        var host = await ConnectMainAsync(NewConnector());
        await host.DisposeAsync();
        await host.DisposeAsync();

        var run = () => host.RunAsync("true", Ct);

        await run.Should().ThrowAsync<ObjectDisposedException>();
    }

    [Fact]
    public async Task A_dropped_connection_is_reported_as_unreachable()
    {
        await using var server = await lab.StartServerAsync("flaky", Ct);
        await using var host = await NewConnector().ConnectAsync(new HostConnection("flaky", lab.Endpoint(server)), Ct);
        (await host.RunAsync("true", Ct)).Ok.Should().BeTrue();

        await server.DisposeAsync(); // kills sshd and the session serving us
        await Task.Delay(200, Ct);
        var run = () => host.RunAsync("echo never", Ct);

        (await run.Should().ThrowAsync<HostUnreachableException>()).Which.Message.Should().StartWith("host flaky: unreachable: connection lost");
    }

    [Fact]
    public void A_non_root_login_elevates_with_sudo_and_root_does_not()
    {
        ScriptEnvelope.RemoteCommand("root").Should().Be("/bin/sh -s");
        ScriptEnvelope.RemoteCommand("deploy").Should().Be("sudo -n /bin/sh -s");
        new HostConnection("x", new SshEndpoint("a", 22, "deploy", "k")).NeedsSudo.Should().BeTrue();
    }

    [Fact]
    public async Task A_script_left_running_does_not_block_others_beyond_the_session_limit()
    {
        var options = Fast() with { MaxConcurrentScripts = 2 };
        await using var host = await ConnectMainAsync(NewConnector(options: options));
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var slow = host.RunAsync("sleep 20", cts.Token);

        var quick = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => host.RunAsync($"echo {i}", Ct)));

        quick.Select(r => r.Stdout).Should().Equal("0\n", "1\n", "2\n", "3\n");
        await cts.CancelAsync();
        var wait = () => slow;
        await wait.Should().ThrowAsync<OperationCanceledException>();
    }
}
