using Xunit;
using AwesomeAssertions;
using Deploy.Core.Model;
using Deploy.Core.Transport;

namespace Deploy.Transport.Tests;

/// <summary>A connection dropped while a step runs (the host's sshd dies under it) is opened again and the step runs
/// again; a connection that keeps dropping fails cleanly after a bounded number of attempts.</summary>
public sealed class ConnectionDropTests(SshFixture lab) : IClassFixture<SshFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Kills the sshd process serving this very script: the client sees its connection drop mid-script.</summary>
    private const string DropMyConnection = """
        p=$$
        while [ "$p" -gt 1 ]; do
          case "$(cat /proc/$p/comm)" in sshd*) kill -9 "$p"; sleep 30; exit 0 ;; esac
          p=$(awk '{print $4}' /proc/$p/stat)
        done
        echo "no sshd above $$" >&2; exit 1
        """;

    private SshHostConnector Connector(List<SshRetryNotice> resumes, int resumeAttempts = 2) =>
        new(lab.NewKnownHostsPath(), new SshConnectOptions
        {
            ConnectTimeout = TimeSpan.FromSeconds(5),
            MaxConnectAttempts = 2,
            RetryBaseDelay = TimeSpan.FromMilliseconds(50),
            RetryMaxDelay = TimeSpan.FromMilliseconds(300),
            MaxResumeAttempts = resumeAttempts,
            OnResume = n => { lock (resumes) resumes.Add(n); },
        });

    [Fact]
    public async Task A_step_whose_connection_drops_mid_run_is_run_again_on_a_new_connection()
    {
        var marker = Path.Combine(lab.Dir, "dropped-once-" + Guid.NewGuid().ToString("N")[..6]);
        var resumes = new List<SshRetryNotice>();
        await using var host = await Connector(resumes).ConnectAsync(new HostConnection("main", lab.Endpoint(lab.Server)), Ct);

        var result = await host.RunAsync($"""
            if [ ! -e {marker} ]; then
              echo first-attempt > {marker}
            {DropMyConnection}
            fi
            echo "resumed after $(cat {marker})"
            """, Ct);

        result.ExitCode.Should().Be(0);
        result.Stdout.Should().Be("resumed after first-attempt\n");
        resumes.Should().ContainSingle().Which.Should().Match<SshRetryNotice>(n => n.Host == "main" && n.Attempt == 1 && n.Error.Message.StartsWith("connection lost"));
        // the same transport keeps working on its new connection
        (await host.RunAsync("echo still-here", Ct)).Stdout.Should().Be("still-here\n");
    }

    [Fact]
    public async Task A_connection_that_keeps_dropping_fails_cleanly_after_bounded_attempts()
    {
        var counter = Path.Combine(lab.Dir, "attempts-" + Guid.NewGuid().ToString("N")[..6]);
        var resumes = new List<SshRetryNotice>();
        await using var host = await Connector(resumes, resumeAttempts: 2).ConnectAsync(new HostConnection("main", lab.Endpoint(lab.Server)), Ct);

        var run = () => host.RunAsync($"echo x >> {counter}\n{DropMyConnection}", Ct);

        var e = (await run.Should().ThrowAsync<HostUnreachableException>()).Which;
        e.Message.Should().StartWith("host main: unreachable: connection lost").And.EndWith("(gave up after 3 attempts to run the step again)");
        (await File.ReadAllLinesAsync(counter, Ct)).Should().HaveCount(3, "the step ran once and was run again twice");
        resumes.Select(n => n.Attempt).Should().Equal(1, 2);
    }

    [Fact]
    public async Task Scripts_running_together_when_the_connection_drops_all_resume_on_one_new_connection()
    {
        var marker = Path.Combine(lab.Dir, "dropped-together-" + Guid.NewGuid().ToString("N")[..6]);
        var resumes = new List<SshRetryNotice>();
        await using var host = await Connector(resumes).ConnectAsync(new HostConnection("main", lab.Endpoint(lab.Server)), Ct);

        var sleepers = Enumerable.Range(0, 3).Select(i => host.RunAsync($"[ -e {marker} ] || sleep 20; echo sleeper-{i}", Ct)).ToArray();
        await Task.Delay(300, Ct);
        var dropper = host.RunAsync($"if [ ! -e {marker} ]; then touch {marker}\n{DropMyConnection}\nfi\necho dropper", Ct);

        var results = await Task.WhenAll(sleepers.Append(dropper));

        results.Select(r => r.Stdout.Trim()).Should().BeEquivalentTo("sleeper-0", "sleeper-1", "sleeper-2", "dropper");
        ((ResumingTransport)host).Reconnects.Should().Be(1);
    }
}
