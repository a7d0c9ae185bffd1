using System.Collections.Immutable;
using AwesomeAssertions;
using Deploy.Core.Engine;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Core.State;
using Deploy.Resources;

namespace Deploy.Tests;

/// <summary>
/// <c>--target</c>/<c>--limit</c>: the names resolved on the lab site (host, group, role, URN; an unknown one refused with
/// the closest name), and the engine on fake hosts: a host outside the targets is never connected, no step is planned
/// for it (no delete either) and its records in the state stay exactly as they were; a URN limits its host's steps to
/// that resource and what it triggers.
/// </summary>
public sealed class TargetSpecs : IDisposable
{
    private const string Path = ProxySite.ConfigPath;
    private const string Svc = ProxySite.ServiceName;
    private const string V1 = "listen=udp:0.0.0.0:5060\n";
    private const string V2 = "listen=udp:0.0.0.0:5060\nmax_while_loops=100\n";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly List<IDisposable> _owned = [];

    private static string Urn(string type, string host, string name) => $"urn:pulumi:engine-specs::nf-deploy::{type}::{host}:{name}";

    private async Task<ISiteProgram> LabAsync()
    {
        var fixture = SiteFixture.FromRepo();
        _owned.Add(fixture);
        return await fixture.LoadAsync();
    }

    private EngineRig Proxies(int n)
    {
        var rig = new EngineRig([.. Enumerable.Range(1, n)
            .Select(i => new FakeHost($"h{i}", $"10.0.0.{10 + i}").WithFile(Path, V1).WithService(Svc))]);
        _owned.Add(rig);
        return rig;
    }

    [Fact]
    public async Task No_target_is_the_whole_site_and_a_host_name_targets_that_host_alone()
    {
        var lab = await LabAsync();

        TargetResolver.Resolve(lab, []).Everything.Should().BeTrue();
        var one = TargetResolver.Resolve(lab, ["kamailio-2"]);

        one.Everything.Should().BeFalse();
        lab.Hosts.Where(h => one.Reaches(h.Name)).Select(h => h.Name).Should().Equal("kamailio-2");
        one.Whole("kamailio-2").Should().BeTrue();
    }

    [Fact]
    public async Task A_group_or_a_role_targets_every_host_in_it_and_several_targets_are_their_union()
    {
        var lab = await LabAsync();

        var group = TargetResolver.Resolve(lab, ["kamailio"]);
        var role = TargetResolver.Resolve(lab, ["sip-proxy"]);
        var union = TargetResolver.Resolve(lab, ["pcrf", "kamailio-1", "ims-1"]);

        group.Hosts.Should().BeEquivalentTo(["kamailio-1", "kamailio-2", "kamailio-3"]);
        role.Hosts.Should().BeEquivalentTo(group.Hosts, "the sip-proxy role is what the kamailio group runs");
        union.Hosts.Should().BeEquivalentTo(["pcrf-1", "pcrf-2", "kamailio-1", "ims-1"]);
        lab.Hosts.Count(h => union.Reaches(h.Name)).Should().Be(4);
    }

    [Fact]
    public async Task A_urn_targets_its_resource_on_its_host_and_not_the_rest_of_the_host()
    {
        var lab = await LabAsync();
        const string urn = "urn:pulumi:lab::nf-deploy::nfdeploy:svc:Service::kamailio-3:kamailio";

        var targets = TargetResolver.Resolve(lab, [urn]);

        targets.Urns.Should().Equal(urn);
        targets.Reaches("kamailio-3").Should().BeTrue();
        targets.Whole("kamailio-3").Should().BeFalse();
        lab.Hosts.Where(h => targets.Reaches(h.Name)).Select(h => h.Name).Should().Equal("kamailio-3");
    }

    [Fact]
    public async Task An_unknown_target_is_refused_with_the_closest_known_name()
    {
        var lab = await LabAsync();

        var host = () => TargetResolver.Resolve(lab, ["kamailio-1", "kamailo-2"]);
        var group = () => TargetResolver.Resolve(lab, ["pcfr"]);
        var urnHost = () => TargetResolver.Resolve(lab, ["urn:pulumi:lab::nf-deploy::nfdeploy:svc:Service::kamailio-7:kamailio"]);
        var otherStack = () => TargetResolver.Resolve(lab, ["urn:pulumi:prod::nf-deploy::nfdeploy:svc:Service::kamailio-1:kamailio"]);

        host.Should().Throw<UnknownTargetException>()
            .WithMessage("--target kamailo-2: no host, group or role of stack lab is called so (did you mean kamailio-2?)*");
        group.Should().Throw<UnknownTargetException>().WithMessage("*(did you mean pcrf?)*");
        urnHost.Should().Throw<UnknownTargetException>().WithMessage("*no host 'kamailio-7' in stack lab (did you mean kamailio-1?)");
        otherStack.Should().Throw<UnknownTargetException>().WithMessage("*not a URN of stack lab (they begin urn:pulumi:lab::nf-deploy::*");
    }

    [Fact]
    public async Task An_untargeted_host_is_never_connected_and_its_state_is_left_exactly_as_it_was()
    {
        var rig = Proxies(3);
        var v1 = ProxySite.Of(rig.Hosts, V1);
        var before = (await rig.UpAsync(v1, Ct)).State;
        var connections = rig.Hosts.ToDictionary(h => h.Name, h => h.Connections);
        rig["h3"].WithFile(Path, "drifted by hand\n");

        var run = await rig.UpAsync(ProxySite.Of(rig.Hosts, V2), new RunTargets(["h2"], []), Ct);

        run.Report!.Ok.Should().BeTrue();
        run.Report.Plan.Steps.Select(s => s.Host).Distinct().Should().Equal("h2");
        rig["h2"].File(Path)!.Content.Should().Be(V2);
        foreach (var h in new[] { "h1", "h3" })
        {
            rig[h].Connections.Should().Be(connections[h], $"{h} is not targeted");
            run.Sent[h].Should().BeEmpty();
            run.State.Resources.Where(r => r.Host == h)
                .Should().BeEquivalentTo(before.Resources.Where(r => r.Host == h), o => o.WithStrictOrdering());
            run.State.Hosts[h].Should().BeEquivalentTo(before.Hosts[h]);
        }
        rig["h1"].File(Path)!.Content.Should().Be(V1);
        rig["h3"].File(Path)!.Content.Should().Be("drifted by hand\n", "no drift of an untargeted host is seen, let alone corrected");
    }

    [Fact]
    public async Task A_targeted_run_plans_no_delete_on_untargeted_hosts()
    {
        var rig = Proxies(2);
        await rig.UpAsync(ProxySite.Of(rig.Hosts, V1), Ct);
        var withoutConfig = new WithoutFiles(ProxySite.Of(rig.Hosts, V1));

        var whole = await rig.PreviewAsync(withoutConfig, Ct);
        var targeted = await rig.PreviewAsync(withoutConfig, Ct, new RunTargets(["h1"], []));

        whole.Plan.Steps.Where(s => s.Op == StepOp.Delete).Select(s => s.Host).Should().Equal("h1", "h2");
        targeted.Plan.Steps.Where(s => s.Op == StepOp.Delete).Select(s => s.Host).Should().Equal("h1");
        targeted.Plan.Steps.Should().NotContain(s => s.Host == "h2");
        targeted.Sent["h2"].Should().BeEmpty();
    }

    [Fact]
    public async Task A_urn_target_limits_its_host_to_that_resource_and_the_restart_it_triggers()
    {
        var rig = Proxies(2);
        var before = (await rig.UpAsync(ProxySite.Of(rig.Hosts, V1), Ct)).State;
        var v2 = ProxySite.Of(rig.Hosts, V2);

        var onlyService = await rig.PreviewAsync(v2, Ct, new RunTargets([], [Urn(ResourceTypes.Service, "h2", Svc)]));
        var run = await rig.UpAsync(v2, new RunTargets([], [Urn(ResourceTypes.File, "h2", Path)]), Ct);

        onlyService.Plan.Steps.Should().ContainSingle().Which.Should().Match<PlanStep>(s => s.Name == Svc && s.Op == StepOp.Same,
            "the config change of the host is not targeted, so nothing restarts the service");
        onlyService.Sent["h1"].Should().BeEmpty();
        run.Report!.Plan.Steps.Select(s => (s.Host, s.Name, s.Op, s.Restarts)).Should().Equal(
            ("h2", Path, StepOp.Update, false), ("h2", Svc, StepOp.Update, true));
        run.Restarts("h2").Should().Be(1);
        rig["h2"].File(Path)!.Content.Should().Be(V2);
        rig["h1"].File(Path)!.Content.Should().Be(V1);
        // every record is still there (their order follows the hosts' finishing order, which is not the point)
        run.State.Resources.Select(r => r.Urn).Should().BeEquivalentTo(before.Resources.Select(r => r.Urn));
        static IEnumerable<string> Records(StackState state) => state.Resources.Where(r => r.Host == "h1")
            .Select(r => r.Urn + " " + string.Join(";", r.Outputs.Select(o => $"{o.Key}={o.Value}")));
        Records(run.State).Should().Equal(Records(before), "h1 was not targeted: its records are as they were");
    }

    [Fact]
    public async Task A_urn_of_a_targeted_host_that_names_no_resource_is_refused_with_the_closest_one()
    {
        var rig = Proxies(1);
        var wrong = Urn(ResourceTypes.Service, "h1", "kamailo");
        var act = () => rig.PreviewAsync(ProxySite.Of(rig.Hosts, V1), Ct, new RunTargets([], [wrong]));

        (await act.Should().ThrowAsync<UnknownTargetException>()).WithMessage(
            $"--target {wrong}: host h1 has no such resource (did you mean {Urn(ResourceTypes.Service, "h1", Svc)}?)");
    }

    [Fact]
    public async Task A_targeted_up_skips_the_site_wide_checks_and_says_so()
    {
        var rig = Proxies(2);
        var site = new WithSiteCheck(ProxySite.Of(rig.Hosts, V1));

        var targeted = await rig.UpAsync(site, new RunTargets(["h1"], []), Ct);
        var whole = await rig.UpAsync(site, Ct);

        targeted.Report!.SiteChecksSkipped.Should().Be(1);
        targeted.Report.SiteChecksSkippedBecause.Should().Be(SiteChecksSkip.Targeted);
        targeted.Sent["h1"].Count(s => s.Kind == ScriptKind.Health).Should().Be(1, "the host's own check runs, the site-wide one does not");
        whole.Report!.SiteChecksSkipped.Should().Be(0);
        whole.Sent["h1"].Count(s => s.Kind == ScriptKind.Health).Should().Be(2);
    }

    [Fact]
    public async Task A_targeted_health_checks_its_hosts_alone_without_the_site_wide_checks_and_counts_them()
    {
        var rig = Proxies(3);
        var site = new WithSiteCheck(ProxySite.Of(rig.Hosts, V1));
        await rig.UpAsync(site, Ct);
        var connections = rig.Hosts.ToDictionary(h => h.Name, h => h.Connections);

        var (targeted, sent) = await rig.HealthAsync(site, new RunTargets(["h1"], []), Ct);
        var (whole, _) = await rig.HealthAsync(site, RunTargets.All, Ct);

        targeted.Hosts.Select(h => (h.Host, h.Health.Length, h.Ok)).Should().Equal([("h1", 1, true)]);
        (targeted.SiteChecksSkipped, targeted.Problems.Length).Should().Be((1, 0));
        sent["h1"].Count(x => x.Kind == ScriptKind.Health).Should().Be(1, "the host's own check runs, the site-wide one does not");
        foreach (var h in new[] { "h2", "h3" })
        {
            sent[h].Should().BeEmpty($"{h} is not targeted");
            rig[h].Connections.Should().Be(connections[h] + 1, $"{h} is connected once, by the whole health run only");
        }
        whole.Hosts.Select(h => h.Host).Should().Equal("h1", "h2", "h3");
        whole.Hosts.Sum(h => h.Health.Length).Should().Be(4, "three own checks and the site-wide one");
        whole.SiteChecksSkipped.Should().Be(0);
    }

    [Fact]
    public async Task An_up_that_changes_nothing_places_no_test_calls_and_says_why()
    {
        var rig = Proxies(2);
        var site = new WithSiteCheck(ProxySite.Of(rig.Hosts, V1));

        var first = await rig.UpAsync(site, Ct);
        var noop = await rig.UpAsync(site, Ct);

        first.Report!.SiteChecksSkipped.Should().Be(0, "the first up changed the hosts: its site-wide check runs");
        first.Sent["h1"].Count(s => s.Kind == ScriptKind.Health).Should().Be(2);
        noop.Report!.Plan.HasChanges.Should().BeFalse();
        noop.Report.SiteChecksSkipped.Should().Be(1);
        noop.Report.SiteChecksSkippedBecause.Should().Be(SiteChecksSkip.NothingChanged);
        noop.Sent["h1"].Count(s => s.Kind == ScriptKind.Health).Should().Be(1, "the host's own check still runs, the site-wide one does not");
    }

    /// <summary>The site with its config files gone from every host: up deletes them.</summary>
    private sealed record WithoutFiles(ProxySite Inner) : ISiteProgram
    {
        public string Stack => Inner.Stack;
        public Deploy.Core.Lab.LabSpec? Lab => null;
        public ImmutableArray<HostTarget> Hosts => Inner.Hosts;

        public ImmutableArray<HostDesired> Materialize(IReadOnlyDictionary<string, HostFacts> facts, CancellationToken ct) =>
            [.. Inner.Materialize(facts, ct).Select(d => d with { Resources = [.. d.Resources.Where(r => r is not FileSpec)] })];
    }

    /// <summary>The site with a site-wide check on h1 (a peer check across the cluster).</summary>
    private sealed record WithSiteCheck(ProxySite Inner) : ISiteProgram
    {
        public string Stack => Inner.Stack;
        public Deploy.Core.Lab.LabSpec? Lab => null;
        public ImmutableArray<HostTarget> Hosts => Inner.Hosts;

        public ImmutableArray<HostDesired> Materialize(IReadOnlyDictionary<string, HostFacts> facts, CancellationToken ct) =>
            [.. Inner.Materialize(facts, ct).Select(d => d.Host != "h1" ? d : d with
            {
                Health = d.Health.Add(new HealthCheckSpec("h1", "kamailio", "command",
                    ImmutableSortedDictionary<string, string>.Empty.Add("command", $"{FakeHost.HealthCommand} cluster"))
                { SiteWide = true }),
            })];
    }

    public void Dispose()
    {
        foreach (var o in _owned) o.Dispose();
    }
}
