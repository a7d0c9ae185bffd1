using AwesomeAssertions;
using Deploy.Core.Resources;
using Deploy.Resources;
using Deploy.Core.State;

namespace Deploy.Tests;

/// <summary>
/// The engine's guarantees (README, "guarantees"): restarts, health-gated rollback, rolling batches and max-fail,
/// unreachable hosts, pending restarts and cancellation — the real engine and providers, on fake hosts (FakeHost) that
/// answer the providers' scripts in memory: no Docker, no SSH.
/// </summary>
public sealed class EngineSpecs : IDisposable
{
    private const string Path = ProxySite.ConfigPath;
    private const string Svc = ProxySite.ServiceName;
    private const string V1 = "listen=udp:0.0.0.0:5060\n";
    private const string V2 = "listen=udp:0.0.0.0:5060\nmax_while_loops=100\n";

    private readonly List<EngineRig> _rigs = [];
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Hosts h1..hn running kamailio on the V1 config.</summary>
    private EngineRig Proxies(int n)
    {
        var rig = new EngineRig([.. Enumerable.Range(1, n).Select(i => new FakeHost($"h{i}", $"10.0.0.{10 + i}").WithFile(Path, V1).WithService(Svc))]);
        _rigs.Add(rig);
        return rig;
    }

    /// <summary>Every file the state records has the content the host really has.</summary>
    private static void StateMatchesHosts(EngineRun run, EngineRig rig)
    {
        var files = run.State.Resources.Where(r => r.Type == ResourceTypes.File).ToList();
        files.Should().NotBeEmpty();
        foreach (var r in files)
            r.Outputs["sha256"].Should().Be(rig[r.Host].File(Path)!.Sha256, $"the state of {r.Host} says what its file is");
    }

    private static string Sha(string content) => Hashing.Sha256Hex(content);

    [Fact]
    public async Task A_changed_config_is_written_and_its_service_restarted_once_and_a_second_run_changes_nothing()
    {
        var rig = Proxies(1);
        var pid = rig["h1"].Service(Svc)!.Pid;
        var site = ProxySite.Of(rig.Hosts, V2);

        var first = await rig.UpAsync(site, Ct);

        first.Report!.Ok.Should().BeTrue();
        first.Changes("h1").Select(s => (s.Kind, s.Target, s.Action)).Should().Equal(
            (ScriptKind.Write, Path, null), (ScriptKind.Service, Svc, "restart"));
        rig["h1"].File(Path)!.Content.Should().Be(V2);
        rig["h1"].Service(Svc)!.Pid.Should().NotBe(pid, "a restart gives a new process");
        first.State.Find($"urn:pulumi:{site.Stack}::nf-deploy::{ResourceTypes.File}::h1:{Path}")!.Outputs["sha256"].Should().Be(Sha(V2));
        first.State.PendingRestarts.Should().BeEmpty();

        var second = await rig.UpAsync(site, Ct);

        second.Report!.Ok.Should().BeTrue();
        second.Changes("h1").Should().BeEmpty("nothing changed since the first run");
        second.Sent["h1"].Select(s => s.Kind).Should().Equal(ScriptKind.Read, ScriptKind.Health);
        second.State.Updated.Should().Be(first.State.Updated, "a no-op run writes no state");
    }

    [Fact]
    public async Task A_preview_reads_the_hosts_and_shows_the_diff_and_the_restart_but_changes_nothing()
    {
        var rig = Proxies(1);
        var applied = await rig.UpAsync(ProxySite.Of(rig.Hosts, V1), Ct);

        var (plan, sent) = await rig.PreviewAsync(ProxySite.Of(rig.Hosts, V2), Ct);

        var file = plan.Steps.Single(st => st.Type == ResourceTypes.File);
        file.Op.Should().Be(StepOp.Update);
        file.ContentDiff.Should().Contain("+max_while_loops=100");
        plan.Steps.Single(st => st.Type == ResourceTypes.Service).Restarts.Should().BeTrue();
        sent["h1"].Select(s => s.Kind).Should().Equal(ScriptKind.Read, ScriptKind.ContentFetch);
        rig["h1"].File(Path)!.Content.Should().Be(V1);
        (await rig.Store.LoadAsync(applied.State.Stack, Ct)).Updated.Should().Be(applied.State.Updated);
    }

    [Fact]
    public async Task A_service_that_does_not_start_on_the_new_config_is_rolled_back_and_started_on_the_old_one()
    {
        var rig = Proxies(1);
        await rig.UpAsync(ProxySite.Of(rig.Hosts, V1), Ct);
        rig["h1"].Starts = (h, _) => h.File(Path)!.Content == V1;

        var run = await rig.UpAsync(ProxySite.Of(rig.Hosts, V2), Ct);

        run.Outcome("h1").Error.Should().Contain("did not come up after restart").And.Contain("rolled back to the previous files, healthy again");
        run.Changes("h1").Select(s => (s.Kind, s.Action)).Should().Equal(
            (ScriptKind.Write, null), (ScriptKind.Service, "restart"), (ScriptKind.Rollback, null), (ScriptKind.Service, "restart"));
        rig["h1"].File(Path)!.Content.Should().Be(V1);
        rig["h1"].Service(Svc)!.Active.Should().BeTrue();
        StateMatchesHosts(run, rig);
        run.State.PendingRestarts.Should().BeEmpty("the restart was made, on the old files");
    }

    [Fact]
    public async Task A_host_unhealthy_after_the_rollout_is_rolled_back_and_with_max_fail_0_the_rest_of_its_group_is_not_touched()
    {
        var rig = Proxies(3);
        await rig.UpAsync(ProxySite.Of(rig.Hosts, V1), Ct); // the state knows the hosts on V1
        rig["h1"].Healthy = h => h.File(Path)!.Content == V1;

        var run = await rig.UpAsync(ProxySite.Of(rig.Hosts, V2, batch: "1", maxFailPercent: 0), Ct);

        run.Report!.Ok.Should().BeFalse();
        run.Outcome("h1").Error.Should().Contain("unhealthy after the rollout").And.Contain("rolled back to the previous files, healthy again");
        run.Changes("h1").Select(s => (s.Kind, s.Action)).Should().Equal(
            (ScriptKind.Write, null), (ScriptKind.Service, "restart"), (ScriptKind.Rollback, null), (ScriptKind.Service, "restart"));
        rig["h1"].File(Path)!.Content.Should().Be(V1, "the backup was put back");
        foreach (var h in new[] { "h2", "h3" })
        {
            run.Outcome(h).Error.Should().Be("not touched: the rollout of group sip stopped after 1 of 3 hosts failed");
            run.Changes(h).Should().BeEmpty();
            rig[h].File(Path)!.Content.Should().Be(V1);
        }
        StateMatchesHosts(run, rig);
        run.State.PendingRestarts.Should().BeEmpty();
    }

    [Fact]
    public async Task With_max_fail_50_percent_the_rollout_goes_on_past_one_failed_host()
    {
        var rig = Proxies(3);
        await rig.UpAsync(ProxySite.Of(rig.Hosts, V1), Ct);
        rig["h1"].Healthy = h => h.File(Path)!.Content == V1;

        var run = await rig.UpAsync(ProxySite.Of(rig.Hosts, V2, batch: "1", maxFailPercent: 50), Ct);

        run.Outcome("h1").Error.Should().Contain("rolled back");
        rig["h1"].File(Path)!.Content.Should().Be(V1);
        foreach (var h in new[] { "h2", "h3" })
        {
            run.Outcome(h).Ok.Should().BeTrue();
            rig[h].File(Path)!.Content.Should().Be(V2);
            run.Restarts(h).Should().Be(1);
        }
        StateMatchesHosts(run, rig);
    }

    [Fact]
    public async Task A_batch_of_50_percent_rolls_out_half_the_group_at_once_and_a_failure_in_it_stops_the_other_half()
    {
        var rig = Proxies(4);
        await rig.UpAsync(ProxySite.Of(rig.Hosts, V1), Ct);
        rig["h2"].Healthy = h => h.File(Path)!.Content == V1;

        var run = await rig.UpAsync(ProxySite.Of(rig.Hosts, V2, batch: "50%", maxFailPercent: 0), Ct);

        run.Outcome("h1").Ok.Should().BeTrue("h1 went in the same batch as h2");
        rig["h1"].File(Path)!.Content.Should().Be(V2);
        run.Outcome("h2").Error.Should().Contain("rolled back");
        foreach (var h in new[] { "h3", "h4" })
        {
            run.Outcome(h).Error.Should().StartWith("not touched");
            run.Changes(h).Should().BeEmpty();
        }
        StateMatchesHosts(run, rig);
    }

    [Fact]
    public async Task An_unreachable_host_fails_alone_and_the_others_roll_out()
    {
        var rig = Proxies(3);
        rig["h2"].Unreachable = true;

        var run = await rig.UpAsync(ProxySite.Of(rig.Hosts, V2, batch: "1", maxFailPercent: 0), Ct);

        run.Report!.Ok.Should().BeFalse();
        run.Report.Plan.Problems.Should().ContainSingle().Which.Should().Match<Deploy.Core.Engine.HostProblem>(p => p.Host == "h2" && p.Message.Contains("unreachable"));
        run.Sent["h2"].Should().BeEmpty();
        rig["h2"].File(Path)!.Content.Should().Be(V1);
        foreach (var h in new[] { "h1", "h3" })
        {
            run.Outcome(h).Ok.Should().BeTrue();
            rig[h].File(Path)!.Content.Should().Be(V2);
            run.Restarts(h).Should().Be(1);
        }
        run.State.Resources.Should().NotContain(r => r.Host == "h2");
        run.State.Hosts.Keys.Should().BeEquivalentTo(["h1", "h3"]);
    }

    [Fact]
    public async Task A_restart_made_due_by_a_written_file_stays_pending_when_the_connection_is_lost_and_the_next_run_makes_it()
    {
        var rig = Proxies(1);
        await rig.UpAsync(ProxySite.Of(rig.Hosts, V1), Ct);
        var pid = rig["h1"].Service(Svc)!.Pid;
        rig["h1"].LoseConnectionAfter(s => s.Kind == ScriptKind.Write);
        var site = ProxySite.Of(rig.Hosts, V2);

        var lost = await rig.UpAsync(site, Ct);

        lost.Outcome("h1").Error.Should().Contain("connection lost");
        rig["h1"].File(Path)!.Content.Should().Be(V2, "the write went through before the connection broke");
        lost.Restarts("h1").Should().Be(0);
        rig["h1"].Service(Svc)!.Pid.Should().Be(pid);
        lost.State.PendingRestarts.Should().Equal(new PendingRestart("h1", "kamailio"));

        var next = await rig.UpAsync(site, Ct);

        next.Report!.Ok.Should().BeTrue();
        next.Changes("h1").Select(s => (s.Kind, s.Action)).Should().Equal((ScriptKind.Service, "restart"));
        rig["h1"].Service(Svc)!.Pid.Should().NotBe(pid);
        next.State.PendingRestarts.Should().BeEmpty();
        StateMatchesHosts(next, rig);

        var third = await rig.UpAsync(site, Ct);
        third.Changes("h1").Should().BeEmpty("the pending restart was made once");
    }

    [Fact]
    public async Task A_run_cancelled_after_a_file_write_records_what_it_did_keeps_the_restart_pending_and_the_next_run_finishes_the_rollout()
    {
        var rig = Proxies(3);
        await rig.UpAsync(ProxySite.Of(rig.Hosts, V1), Ct);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        rig["h1"].CancelAfter(s => s.Kind == ScriptKind.Write, cts);
        var site = ProxySite.Of(rig.Hosts, V2, batch: "1");

        var cancelled = await rig.UpAsync(site, cts.Token);

        cancelled.Cancelled.Should().NotBeNull("the run ends as cancelled");
        rig["h1"].File(Path)!.Content.Should().Be(V2);
        cancelled.Restarts("h1").Should().Be(0);
        cancelled.Changes("h2").Should().BeEmpty();
        cancelled.Changes("h3").Should().BeEmpty();
        StateMatchesHosts(cancelled, rig);
        cancelled.State.PendingRestarts.Should().Equal(new PendingRestart("h1", "kamailio"));

        var next = await rig.UpAsync(site, Ct);

        next.Report!.Ok.Should().BeTrue();
        next.Changes("h1").Select(s => (s.Kind, s.Action)).Should().Equal((ScriptKind.Service, "restart"));
        foreach (var h in new[] { "h2", "h3" })
            next.Changes(h).Select(s => (s.Kind, s.Action)).Should().Equal((ScriptKind.Write, null), (ScriptKind.Service, "restart"));
        next.State.PendingRestarts.Should().BeEmpty();
        StateMatchesHosts(next, rig);
    }

    public void Dispose()
    {
        foreach (var r in _rigs) r.Dispose();
    }
}
