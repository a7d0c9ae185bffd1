using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text;
using Deploy.Core.Lab;
using Deploy.Core.Model;
using Deploy.Core.Probes;
using Deploy.Core.Resources;
using Deploy.Core.State;
using Deploy.Core.Transport;

namespace Deploy.Core.Engine;

// Preview: reading every host (facts and live state), planning the steps (diffs, restarts to propagate, lab hosts),
// the content diffs of changed files, and the session that keeps the connections open for the apply.
public sealed partial class DeployEngine
{
    private async Task ReadHostsAsync(PlanSession s, CancellationToken ct)
    {
        var site = s.Site;
        using (Metrics.Time(deps.Lab is null ? null : "lab")) s.Missing = await lab.MissingAsync(site, ct);

        // Render with the best facts known before contacting anyone, to know what to probe in the same round trip. It runs
        // while the hosts are connected to (their handshakes wait on the network): each host's read waits for it.
        var known = site.Hosts.ToDictionary(h => h.Name, h => h.FactsOrAssumed(s.State.Hosts.GetValueOrDefault(h.Name)?.Facts));
        var rendering = Task.Run(() =>
        {
            try
            {
                using (Metrics.Time("render")) return (Value: (ImmutableArray<HostDesired>?)site.Materialize(known, ct), Error: (Exception?)null);
            }
            catch (SiteErrors) { return (null, null); /* facts only a live host can give: probe after the facts are in */ }
            catch (Exception e) { return (null, e); }
        }, ct);
        var preliminaryByHost = rendering.ContinueWith(t => (t.Result.Value?.ToDictionary(d => d.Host), t.Result.Error), ct,
            TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);

        var behindDownBastions = new ConcurrentBag<BastionUnreachableException>();
        await System.Threading.Tasks.Parallel.ForEachAsync(site.Hosts, Options(ct), async (host, token) =>
        {
            if (s.Missing.Contains(host.Name)) return; // a lab host that up creates
            if (!s.Targets.Reaches(host.Name)) return; // not targeted: not contacted at all
            try
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var endpoint = host.Connection.Endpoint;
                deps.Log.Progress(new HostProgress(host.Name, RunPhase.Connect, $"{endpoint.Address}:{endpoint.Port}"));
                IHostTransport transport;
                using (Metrics.Time("connect")) transport = await connector.ConnectAsync(host.Connection, token);
                var connected = clock.ElapsedMilliseconds;
                s.Transports[host.Name] = transport;
                var (preDesired, renderFailed) = await preliminaryByHost.WaitAsync(token);
                if (renderFailed is not null) return; // nothing is read: the run stops on that error, below
                var specs = preDesired?.GetValueOrDefault(host.Name)?.Resources ?? [];
                var reading = $"facts and {specs.Length} resources";
                deps.Log.Progress(new HostProgress(host.Name, RunPhase.Read, reading, 0, specs.Length));
                var read = await ReadAsync(host.Name, transport, specs, token);
                s.Reads[host.Name] = read;
                deps.Log.Progress(new HostProgress(host.Name, RunPhase.Read, reading, specs.Length, specs.Length));
                deps.Log.Info($"{host.Name}: connected in {connected} ms, read {specs.Length} resources in {clock.ElapsedMilliseconds - connected} ms");
            }
            catch (BastionUnreachableException e)
            {
                s.Problems[host.Name] = e.Message;
                behindDownBastions.Add(e); // one cause for every host behind it: reported once, below
            }
            catch (DeployException e)
            {
                s.Problems[host.Name] = e.Message;
                deps.Log.Warn(host.Name, e.Message);
                deps.Log.Progress(new HostProgress(host.Name, RunPhase.Failed, e.Message));
            }
        });
        foreach (var down in behindDownBastions.GroupBy(e => e.Bastion).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var hosts = down.Select(e => e.Host).Order(StringComparer.Ordinal).ToList();
            deps.Log.Warn(down.Key, $"bastion {down.Key} unreachable: {hosts.Count} host{(hosts.Count == 1 ? "" : "s")} not read " +
                $"({string.Join(", ", hosts)}): {down.First().Reason}");
        }

        // an error of the rendering itself (not a fact it lacked) is the run's, as if it had rendered before connecting
        var (preliminary, renderError) = await rendering;
        if (renderError is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(renderError);

        var facts = site.Hosts.ToDictionary(h => h.Name, h => s.Reads.TryGetValue(h.Name, out var r) ? r.Facts : known[h.Name]);
        // Nothing changed on any host since the last run (the usual no-op): the first rendering stands.
        var unchanged = preliminary is not null && site.Hosts.All(h => facts[h.Name].SameAs(known[h.Name]));
        using (Metrics.Time("render"))
            s.Desired = (unchanged ? preliminary!.Value : site.Materialize(facts, ct)).ToImmutableDictionary(d => d.Host);

        // Resources whose identity depended on live facts were not probed yet: one more round trip for those hosts.
        await System.Threading.Tasks.Parallel.ForEachAsync(s.Reads.Keys.ToArray(), Options(ct), async (host, token) =>
        {
            var read = s.Reads[host];
            var missing = s.Desired[host].Resources.Where(r => !read.Probes.ContainsKey(r.Key)).ToImmutableArray();
            if (missing.IsEmpty) return;
            try
            {
                var more = await ReadAsync(host, s.Transports[host], missing, token);
                s.Reads[host] = read with { Probes = read.Probes.SetItems(more.Probes) };
            }
            catch (DeployException e)
            {
                s.Problems[host] = e.Message;
                deps.Log.Warn(host, e.Message);
                deps.Log.Progress(new HostProgress(host, RunPhase.Failed, e.Message));
            }
        });
    }

    private async Task<HostRead> ReadAsync(string host, IHostTransport transport, IEnumerable<ResourceSpec> specs, CancellationToken ct)
    {
        using var timing = Metrics.Time("read");
        var script = HostReader.Build(specs, Provider);
        var result = await transport.RunAsync(script.Text, ct);
        return script.Parse(host, result.Stdout);
    }

    private Plan BuildPlan(PlanSession s)
    {
        var stack = s.Site.Stack;
        var steps = new List<PlanStep>();
        foreach (var host in s.Site.Hosts)
        {
            if (s.Problems.ContainsKey(host.Name) || !s.Targets.Reaches(host.Name)) continue;
            var desired = s.Desired[host.Name].Resources;
            var read = s.Reads.GetValueOrDefault(host.Name);
            var facts = host.FactsOrAssumed(read?.Facts ?? s.State.Hosts.GetValueOrDefault(host.Name)?.Facts);
            var hostSteps = new List<PlanStep>();

            // Resources applied before and no longer wanted: delete, in reverse apply order.
            var wanted = desired.Select(r => r.Urn(stack)).ToHashSet();
            foreach (var rec in s.State.Resources.Where(r => r.Host == host.Name && !wanted.Contains(r.Urn)).Reverse())
                hostSteps.Add(new PlanStep(host.Name, rec.Urn, rec.Type, rec.Name, StepOp.Delete, [], null, rec.Identity)
                {
                    Release = rec.Adopted is not null && Provider(rec.Type) is IAdoptable,
                });

            foreach (var spec in desired)
            {
                var provider = Provider(spec.Type);
                LiveState? live = null;
                if (read is not null && read.Probes.TryGetValue(spec.Key, out var kv))
                    live = provider.Parse(spec, kv, facts);
                var diff = provider.Diff(spec, live);
                s.Live[spec.Key] = live;
                var urn = spec.Urn(stack);
                // brownfield: what is on the host before nf-deploy first applies it is adopted, not owned
                var adopt = live is not null && s.State.Find(urn) is null && provider is IAdoptable adoptable && adoptable.Existed(live);
                hostSteps.Add(new PlanStep(host.Name, urn, spec.Type, spec.Name, diff.Op, diff.Changes, spec, spec.Identity)
                {
                    Adopt = adopt,
                });
            }
            var pending = s.State.PendingRestarts.Where(p => p.Host == host.Name).Select(p => p.Resource).ToHashSet();
            if (s.Targets.Whole(host.Name))
            {
                steps.AddRange(TriggerPlanner.Propagate(hostSteps, facts, pending));
                continue;
            }
            // reached through URNs only: those resources, and what their steps trigger (a service's restart)
            TargetResolver.RequireKnown(s.Targets, host.Name, [.. hostSteps.Select(st => st.Urn)]);
            var targeted = hostSteps.Where(st => s.Targets.Urns.Contains(st.Urn)).Select(st => st.Name).ToHashSet();
            var narrowed = hostSteps
                .Where(st => st.Op != StepOp.Delete || s.Targets.Urns.Contains(st.Urn))
                .Select(st => s.Targets.Urns.Contains(st.Urn) ? st : st with { Op = StepOp.Same, Changes = [] })
                .ToList();
            steps.AddRange(TriggerPlanner.Propagate(narrowed, facts, pending.Where(targeted.Contains).ToHashSet())
                .Where(st => s.Targets.Urns.Contains(st.Urn) || !st.Triggers.IsEmpty));
        }
        var problems = s.Problems.Select(p => new HostProblem(p.Key, p.Value)).OrderBy(p => p.Host).ToImmutableArray();
        var planned = s.Site.Hosts.Where(h => !s.Problems.ContainsKey(h.Name) && s.Targets.Reaches(h.Name)).ToArray();
        return new Plan(stack, [.. steps], problems)
        {
            Lab = [.. LabPhase.Changes(s.Site, s.State, s.Missing, s.Problems.Keys.ToHashSet()).Where(c => s.Targets.Reaches(c.Host))],
            Hosts = [.. planned.Select(h => new PlanHost(h.Name, h.Rollout.Group, Addresses(h, s.Reads.GetValueOrDefault(h.Name)?.Facts)))],
            Rollout = RolloutWaves.Of(planned, steps),
        };
    }

    /// <summary>The host's own addresses: the one it is reached at and those of its interfaces (loopback aside).</summary>
    private static ImmutableArray<string> Addresses(HostTarget host, HostFacts? facts) =>
        [.. new[] { host.Connection.Endpoint.Address }
            .Concat(host.FactsOrAssumed(facts).Interfaces.Where(i => i.Name != "lo").SelectMany(i => i.IPv4.Concat(i.IPv6)))
            .Distinct(StringComparer.Ordinal)];

    /// <summary>Fetches the live content of changed resources that show one (one round trip per host) and attaches
    /// unified diffs. A new file's content is all of it: shown (a diff from empty) only with
    /// <see cref="EngineOptions.DiffNewContent"/> (preview --diff).</summary>
    private async Task AttachContentDiffsAsync(PlanSession s, CancellationToken ct)
    {
        var plan = s.Plan!;
        if (deps.Options.DiffNewContent) plan = plan with { Steps = [.. plan.Steps.Select(NewContentDiff)] };
        var views = plan.Steps
            .Where(st => st.Op == StepOp.Update && Provider(st.Type) is IContentDiff)
            .Select(st => (Step: st, View: ((IContentDiff)Provider(st.Type)).View(st.Desired!)))
            .Where(x => x.View is not null)
            .ToDictionary(x => x.Step.Urn, x => x.View!);
        var contents = new ConcurrentDictionary<string, string>();
        await System.Threading.Tasks.Parallel.ForEachAsync(plan.Steps.Where(st => views.ContainsKey(st.Urn)).GroupBy(st => st.Host),
            Options(ct), async (group, token) =>
            {
                if (!s.Transports.TryGetValue(group.Key, out var transport)) return;
                var script = new StringBuilder();
                foreach (var st in group) script.Append(ProbeProtocol.ContentFetch(st.Urn, views[st.Urn]));
                var res = await transport.RunAsync(script.ToString(), token);
                foreach (var (urn, line) in ProbeProtocol.ResourceLines(res.Stdout))
                {
                    try { contents[urn] = Encoding.UTF8.GetString(Convert.FromBase64String(line.Trim())); }
                    catch (FormatException) { contents[urn] = ""; }
                }
            });
        s.Plan = plan with
        {
            Steps = [.. plan.Steps.Select(st =>
            {
                if (!views.TryGetValue(st.Urn, out var view)) return st;
                var before = contents.GetValueOrDefault(st.Urn);
                if (before is null || before == view.Desired) return st;
                return st with { ContentDiff = UnifiedDiff.Create(before, view.Desired, $"{st.Host}:{view.Label} (live)", $"{st.Host}:{view.Label} (desired)") };
            })],
        };
    }

    /// <summary>A new resource's content as a diff from empty (never a secret's: its view is null).</summary>
    private PlanStep NewContentDiff(PlanStep step) =>
        step.Op == StepOp.Create && Provider(step.Type) is IContentDiff content && content.View(step.Desired!) is { } view
            ? step with { ContentDiff = UnifiedDiff.Create("", view.Desired, "/dev/null", $"{step.Host}:{view.Label} (desired)") }
            : step;
}

/// <summary>A plan together with the open connections and reads it was made from.</summary>
public sealed class PlanSession(ISiteProgram site, StackState state, IStateStore store, RunMetrics? metrics = null) : IAsyncDisposable
{
    public ISiteProgram Site { get; } = site;

    /// <summary>The run's state: what it was planned from, then each host's outcome as it finishes.</summary>
    public StackState State { get => Journal.State; internal set => Journal.Reset(value); }

    /// <summary>Records changes to <see cref="State"/> as they happen (group commit: hosts finishing together share a write).</summary>
    internal StateJournal Journal { get; } = new(store, state, metrics);
    public Plan? Plan { get; internal set; }

    /// <summary>The hosts and resources the run acts on (<c>--target</c>); the others are neither read nor changed.</summary>
    public RunTargets Targets { get; init; } = RunTargets.All;

    /// <summary>A <c>restart</c> run: only the hosts with a step roll out (and are health-checked).</summary>
    internal bool RestartOnly { get; set; }
    internal ConcurrentDictionary<string, IHostTransport> Transports { get; } = new();
    internal ConcurrentDictionary<string, HostRead> Reads { get; } = new();
    internal ConcurrentDictionary<string, string> Problems { get; } = new();
    internal ConcurrentDictionary<string, LiveState?> Live { get; } = new();
    /// <summary>Lab hosts that are not there yet: not read, created by up.</summary>
    internal ImmutableHashSet<string> Missing { get; set; } = [];
    internal ImmutableDictionary<string, HostDesired> Desired { get; set; } = ImmutableDictionary<string, HostDesired>.Empty;

    public async ValueTask DisposeAsync()
    {
        foreach (var t in Transports.Values) await t.DisposeAsync();
        Transports.Clear();
    }
}
