using System.Collections.Concurrent;
using AwesomeAssertions;
using Deploy.Core.Engine;
using Deploy.Core.Resources;

namespace Deploy.Tests;

/// <summary>
/// <c>./deploy restart</c> on fake hosts: the targeted hosts' services are restarted with no config change, per group in
/// the rollout's batches, each host's health checks gating the next batch; a failed check stops the group as in up. The
/// state keeps every other record as it was; an unknown <c>--service</c> is refused with the closest name.
/// </summary>
public sealed class RestartSpecs : IDisposable
{
    private const string Path = ProxySite.ConfigPath;
    private const string Svc = ProxySite.ServiceName;
    private const string V1 = "listen=udp:0.0.0.0:5060\n";
    private const string V2 = "listen=udp:0.0.0.0:5060\nmax_while_loops=100\n";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly List<EngineRig> _rigs = [];

    /// <summary>Hosts h1..hn of group sip on the V1 config, rolled out once (the state knows them).</summary>
    private async Task<EngineRig> ProxiesAsync(int n)
    {
        var rig = new EngineRig([.. Enumerable.Range(1, n)
            .Select(i => new FakeHost($"h{i}", $"10.0.0.{10 + i}").WithFile(Path, V1).WithService(Svc))]);
        _rigs.Add(rig);
        (await rig.UpAsync(ProxySite.Of(rig.Hosts, V1), Ct)).Report!.Ok.Should().BeTrue();
        return rig;
    }

    private static int RestartsSoFar(FakeHost host) => host.Sent.Count(s => s.Kind == ScriptKind.Service && s.Action == "restart");

    [Fact]
    public async Task Restart_goes_batch_by_batch_each_host_healthy_before_the_next_is_restarted()
    {
        var rig = await ProxiesAsync(3);
        var baseline = rig.Hosts.ToDictionary(h => h.Name, RestartsSoFar);
        var seenAtHealth = new ConcurrentDictionary<string, string>();
        foreach (var host in rig.Hosts)
            host.Healthy = me =>
            {
                // when a host's gate is checked, which hosts have been restarted by this run
                seenAtHealth[me.Name] = string.Join(",", rig.Hosts.Where(h => RestartsSoFar(h) > baseline[h.Name]).Select(h => h.Name));
                return true;
            };
        var pids = rig.Hosts.ToDictionary(h => h.Name, h => h.Service(Svc)!.Pid);

        var run = await rig.RestartAsync(ProxySite.Of(rig.Hosts, V1, batch: "1"), new RunTargets(["h1", "h2", "h3"], []), null, Ct);

        run.Report!.Ok.Should().BeTrue();
        seenAtHealth.Should().BeEquivalentTo(new Dictionary<string, string> { ["h1"] = "h1", ["h2"] = "h1,h2", ["h3"] = "h1,h2,h3" });
        foreach (var h in rig.Hosts)
        {
            run.Restarts(h.Name).Should().Be(1);
            run.Changes(h.Name).Should().OnlyContain(s => s.Kind == ScriptKind.Service, "a restart writes no file");
            h.Service(Svc)!.Pid.Should().NotBe(pids[h.Name]);
        }
        run.Report.Plan.Steps.Should().OnlyContain(s => s.Triggers.Single().Reason == DeployEngine.RestartRequested);
    }

    [Fact]
    public async Task A_failed_health_gate_stops_the_next_batches_of_the_group()
    {
        var rig = await ProxiesAsync(3);
        rig["h1"].Healthy = _ => false;

        var site = ProxySite.Of(rig.Hosts, V1, batch: "1", maxFailPercent: 0);

        var run = await rig.RestartAsync(site, new RunTargets(["h1", "h2", "h3"], []), null, Ct);

        run.Report!.Ok.Should().BeFalse();
        run.Outcome("h1").Ok.Should().BeFalse();
        run.Outcome("h1").Health.Should().ContainSingle().Which.Result.Healthy.Should().BeFalse();
        run.Restarts("h1").Should().Be(1);
        foreach (var h in new[] { "h2", "h3" })
        {
            run.Outcome(h).Error.Should().Be("not touched: the rollout of group sip stopped after 1 of 3 hosts failed");
            run.Restarts(h).Should().Be(0);
        }
    }

    [Fact]
    public async Task Restart_does_not_apply_a_pending_config_change_and_keeps_the_other_records_of_the_state()
    {
        var rig = await ProxiesAsync(2);
        var before = await rig.Store.LoadAsync("engine-specs", Ct);

        var run = await rig.RestartAsync(ProxySite.Of(rig.Hosts, V2), new RunTargets(["h2"], []), null, Ct);

        run.Report!.Ok.Should().BeTrue();
        rig["h2"].File(Path)!.Content.Should().Be(V1, "restart changes no config; up does");
        run.Restarts("h2").Should().Be(1);
        run.Sent["h1"].Should().BeEmpty("h1 is not targeted");
        static bool NotService(Deploy.Core.State.ResourceRecord r) => r.Type != Deploy.Resources.ResourceTypes.Service;
        run.State.Resources.Where(NotService).Should().BeEquivalentTo(before.Resources.Where(NotService), o => o.WithStrictOrdering());
        run.State.Resources.Select(r => r.Urn).Should().Equal(before.Resources.Select(r => r.Urn));
    }

    [Fact]
    public async Task Only_the_named_service_restarts_and_an_unknown_one_is_refused_with_the_closest_name()
    {
        var rig = await ProxiesAsync(1);
        var site = ProxySite.Of(rig.Hosts, V1);
        var targets = new RunTargets(["h1"], []);

        var named = await rig.RestartAsync(site, targets, Svc, Ct);
        var empty = Deploy.Core.State.StackState.Empty("engine-specs");
        var unknown = () => DeployEngine.RequireRestartable(site, empty, targets, "kamailo", Ct);

        named.Restarts("h1").Should().Be(1);
        unknown.Should().Throw<UnknownTargetException>()
            .WithMessage("--service kamailo: no service of that name on h1 (did you mean kamailio?)");
        var planned = async () => await rig.RestartAsync(site, targets, "kamailo", Ct);
        await planned.Should().ThrowAsync<UnknownTargetException>();
        rig["h1"].Sent.Count(s => s.Kind == ScriptKind.Service).Should().Be(1, "the refused restart restarted nothing");
    }

    public void Dispose()
    {
        foreach (var rig in _rigs) rig.Dispose();
    }
}
