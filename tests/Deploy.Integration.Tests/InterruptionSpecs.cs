using System.Text.Json.Nodes;
using AwesomeAssertions;
using Deploy.Core.State;

namespace Deploy.Integration.Tests;

/// <summary>
/// Interruption safety on the 3-node Kamailio cluster, with the real program run as a child process: kill -9 at
/// several points of an `up` leaves an intact state and a stale lock that `cancel` breaks, and the next `up` converges
/// with every service restarted that needed it; SIGTERM finishes or abandons the current step, saves the state and
/// releases the lock by itself.
/// </summary>
[Collection("lab")]
public sealed class InterruptionSpecs(RolledOutLab lab)
{
    private LabSite Site => lab.Site;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private static readonly TimeSpan LogWait = TimeSpan.FromMinutes(3);

    private string StatePath => Path.Combine(Site.Dir, ".pulumi", "stacks", "nf-deploy", $"{Site.Stack}.json");
    private string LockPath => Path.Combine(Site.Dir, ".pulumi", "locks", "nf-deploy", $"{Site.Stack}.json");

    private CliProcess StartUp() => new(Site.Dir, null, "up", "--stack", Site.Stack, "--yes", "--verbose");

    private static string CfgLine(string host) => $"{host}: ~ nfdeploy:fs:File /etc/kamailio/kamailio.cfg";
    private static string RestartLine(string host) => $"{host}: ~ nfdeploy:svc:Service kamailio (restart";

    /// <summary>The running kamailio's pid and whether it was started after kamailio.cfg was last written.</summary>
    private async Task<(string Pid, bool StartedAfterCfg, bool HasMarker)> ProcessAsync(string host, string marker)
    {
        var o = await Site.Sh(host, $$"""
            pid=$(cat /run/kamailio/kamailio.pid)
            [ -d /proc/$pid ] || { echo "$pid dead"; exit 0; }
            started=$(( $(date +%s) - $(ps -o etimes= -p $pid) ))
            m=$(stat -c %Y /etc/kamailio/kamailio.cfg)
            if [ $((started + 1)) -ge $m ]; then s=fresh; else s=stale; fi
            if grep -q '{{marker}}' /etc/kamailio/kamailio.cfg; then g=yes; else g=no; fi
            echo "$pid $s $g"
            """);
        var f = o.Trim().Split(' ');
        return (f[0], f[1] == "fresh", f[2] == "yes");
    }

    private async Task<StackStateView> LoadStateAsync()
    {
        var state = await new FileStateStore(Site.Dir).LoadAsync(Site.Stack, Ct); // throws if the file is not intact
        return new StackStateView(state.Resources.Length, [.. state.PendingRestarts.Select(p => p.ToString())]);
    }

    private sealed record StackStateView(int Resources, string[] Pending);

    [Fact]
    public async Task A_kill_9_at_any_point_of_up_leaves_an_intact_state_a_breakable_lock_and_the_next_up_restarts_what_needed_it()
    {
        var template = Site.Read("templates/kamailio/kamailio.cfg.sbn");
        var marker = "# interrupted rollout " + Guid.NewGuid().ToString("N")[..8];
        var pidsBefore = new Dictionary<string, string>();
        foreach (var (name, _) in LabSite.Kamailio) pidsBefore[name] = (await ProcessAsync(name, marker)).Pid;
        try
        {
            Site.Write("templates/kamailio/kamailio.cfg.sbn", template.Replace("debug=2\n", $"debug=2\n{marker}\n"));

            // 1. killed while reading the hosts: the state file is untouched, the lock is left behind
            var stateBytes = await File.ReadAllBytesAsync(StatePath, Ct);
            using (var run = StartUp())
            {
                await run.WaitForLogAsync("connected in", LogWait, Ct);
                run.KillHard();
                await run.ExitAsync(TimeSpan.FromSeconds(30), Ct);
            }
            (await File.ReadAllBytesAsync(StatePath, Ct)).Should().Equal(stateBytes, "nothing was applied");
            File.Exists(LockPath).Should().BeTrue("kill -9 releases nothing");
            var locked = await Site.Up();
            locked.Exit.Should().Be(1);
            locked.Err.Should().MatchRegex(@"error: stack it is locked by 'up' \(pid \d+ on .+, since .+\); that process is gone: break the stale lock with `\./deploy cancel --stack it`\.");
            (await CliProcess.RunAsync(Site.Dir, null, Ct, "cancel", "--stack", Site.Stack)).Should().Be((0, "the lock of stack it was removed\n", ""));

            // 2. killed right after kamailio-1's new kamailio.cfg went out, before its restart
            using (var run = StartUp())
            {
                await run.WaitForLogAsync(CfgLine("kamailio-1"), LogWait, Ct);
                run.KillHard();
                await run.ExitAsync(TimeSpan.FromSeconds(30), Ct);
            }
            var afterSecond = await LoadStateAsync();
            afterSecond.Pending.Should().Contain("kamailio-1:kamailio", "the restart was recorded before the file changed");
            File.Exists(LockPath).Should().BeTrue();
            (await CliProcess.RunAsync(Site.Dir, null, Ct, "cancel", "--stack", Site.Stack)).Exit.Should().Be(0);

            // 3. killed while kamailio-2's kamailio restarts (kamailio-1 is done by then: batches of one)
            using (var run = StartUp())
            {
                await run.WaitForLogAsync(RestartLine("kamailio-2"), LogWait, Ct);
                run.KillHard();
                await run.ExitAsync(TimeSpan.FromSeconds(30), Ct);
                run.Err.Should().Contain(RestartLine("kamailio-1"), "the interrupted run made the restart left pending on kamailio-1");
            }
            var afterThird = await LoadStateAsync();
            afterThird.Pending.Should().NotContain("kamailio-1:kamailio").And.Contain("kamailio-2:kamailio");
            (await CliProcess.RunAsync(Site.Dir, null, Ct, "cancel", "--stack", Site.Stack)).Exit.Should().Be(0);

            // the next up converges: every node runs a kamailio started after its new config, nothing is pending
            var up = await Site.Up();
            up.Exit.Should().Be(0, up.Out + up.Err);
            foreach (var (name, _) in LabSite.Kamailio)
            {
                up.Out.Should().Contain($"{name}: ok").And.Contain("healthy");
                var p = await ProcessAsync(name, marker);
                p.HasMarker.Should().BeTrue($"{name} has the new kamailio.cfg");
                p.StartedAfterCfg.Should().BeTrue($"{name}'s kamailio was restarted on the new kamailio.cfg");
                p.Pid.Should().NotBe(pidsBefore[name]);
            }
            (await LoadStateAsync()).Pending.Should().BeEmpty();
            File.Exists(LockPath).Should().BeFalse();
            (await Site.Preview(expectNoChanges: true)).Exit.Should().Be(0);
        }
        finally
        {
            if (File.Exists(LockPath)) File.Delete(LockPath);
            Site.Write("templates/kamailio/kamailio.cfg.sbn", template);
            (await Site.Up()).Exit.Should().Be(0);
        }
    }

    [Fact]
    public async Task Sigterm_mid_rollout_saves_the_state_releases_the_lock_and_the_next_up_converges()
    {
        var template = Site.Read("templates/kamailio/kamailio.cfg.sbn");
        var marker = "# sigterm rollout " + Guid.NewGuid().ToString("N")[..8];
        try
        {
            Site.Write("templates/kamailio/kamailio.cfg.sbn", template.Replace("debug=2\n", $"debug=2\n{marker}\n"));
            int exit;
            string err;
            using (var run = StartUp())
            {
                await run.WaitForLogAsync(CfgLine("kamailio-1"), LogWait, Ct);
                run.Signal("TERM");
                exit = await run.ExitAsync(TimeSpan.FromSeconds(90), Ct);
                err = run.Err;
            }
            exit.Should().Be(1);
            err.Should().Contain("SIGTERM: finishing the current step, saving the state and releasing the lock")
                .And.Contain("error: cancelled: what was applied is recorded in the state; run the verb again to finish")
                .And.NotContain(" at Deploy.", "no stack trace");
            err.Should().NotContain(CfgLine("kamailio-2"), "no new host is started after the signal");
            File.Exists(LockPath).Should().BeFalse("the lock is released");
            var state = await LoadStateAsync();
            state.Resources.Should().BeGreaterThan(0);

            var up = await Site.Up();
            up.Exit.Should().Be(0, up.Out + up.Err);
            foreach (var (name, _) in LabSite.Kamailio)
            {
                var p = await ProcessAsync(name, marker);
                p.HasMarker.Should().BeTrue();
                p.StartedAfterCfg.Should().BeTrue($"{name}'s kamailio runs the new kamailio.cfg");
            }
            (await LoadStateAsync()).Pending.Should().BeEmpty();
            (await Site.Preview(expectNoChanges: true)).Exit.Should().Be(0);
        }
        finally
        {
            Site.Write("templates/kamailio/kamailio.cfg.sbn", template);
            (await Site.Up()).Exit.Should().Be(0);
        }
    }
}
