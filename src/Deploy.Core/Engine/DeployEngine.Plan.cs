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

        // Render with the best facts known before contacting anyone, to know what to probe in the same round trip.
        var known = site.Hosts.ToDictionary(h => h.Name, h => h.FactsOrAssumed(s.State.Hosts.GetValueOrDefault(h.Name)?.Facts));
        ImmutableArray<HostDesired>? preliminary = null;
        try { using (Metrics.Time("render")) preliminary = site.Materialize(known, ct); }
        catch (SiteErrors) { /* facts only a live host can give: probe after the facts are in */ }
        var preDesired = preliminary?.ToDictionary(d => d.Host);

        await System.Threading.Tasks.Parallel.ForEachAsync(site.Hosts, Options(ct), async (host, token) =>
        {
            if (s.Missing.Contains(host.Name)) return; // a lab host that up creates
            try
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                IHostTransport transport;
                using (Metrics.Time("connect")) transport = await connector.ConnectAsync(host.Connection, token);
                var connected = clock.ElapsedMilliseconds;
                s.Transports[host.Name] = transport;
                var specs = preDesired?.GetValueOrDefault(host.Name)?.Resources ?? [];
                var read = await ReadAsync(host.Name, transport, specs, token);
                s.Reads[host.Name] = read;
                deps.Log.Info($"{host.Name}: connected in {connected} ms, read {specs.Length} resources in {clock.ElapsedMilliseconds - connected} ms");
            }
            catch (DeployException e)
            {
                s.Problems[host.Name] = e.Message;
                deps.Log.Warn(host.Name, e.Message);
            }
        });

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
            if (s.Problems.ContainsKey(host.Name)) continue;
            var desired = s.Desired[host.Name].Resources;
            var read = s.Reads.GetValueOrDefault(host.Name);
            var facts = host.FactsOrAssumed(read?.Facts ?? s.State.Hosts.GetValueOrDefault(host.Name)?.Facts);
            var hostSteps = new List<PlanStep>();

            // Resources applied before and no longer wanted: delete, in reverse apply order.
            var wanted = desired.Select(r => r.Urn(stack)).ToHashSet();
            foreach (var rec in s.State.Resources.Where(r => r.Host == host.Name && !wanted.Contains(r.Urn)).Reverse())
                hostSteps.Add(new PlanStep(host.Name, rec.Urn, rec.Type, rec.Name, StepOp.Delete, [], null, rec.Identity));

            foreach (var spec in desired)
            {
                var provider = Provider(spec.Type);
                LiveState? live = null;
                if (read is not null && read.Probes.TryGetValue(spec.Key, out var kv))
                    live = provider.Parse(spec, kv, facts);
                var diff = provider.Diff(spec, live);
                s.Live[spec.Key] = live;
                hostSteps.Add(new PlanStep(host.Name, spec.Urn(stack), spec.Type, spec.Name, diff.Op, diff.Changes, spec, spec.Identity));
            }
            var pending = s.State.PendingRestarts.Where(p => p.Host == host.Name).Select(p => p.Resource).ToHashSet();
            steps.AddRange(TriggerPlanner.Propagate(hostSteps, facts, pending));
        }
        var problems = s.Problems.Select(p => new HostProblem(p.Key, p.Value)).OrderBy(p => p.Host).ToImmutableArray();
        return new Plan(stack, [.. steps], problems)
        {
            Lab = LabPhase.Changes(s.Site, s.State, s.Missing, s.Problems.Keys.ToHashSet()),
        };
    }

    /// <summary>Fetches the live content of changed resources that show one (one round trip per host) and attaches
    /// unified diffs. Updates only: a new file's content is all of it (render shows it).</summary>
    private async Task AttachContentDiffsAsync(PlanSession s, CancellationToken ct)
    {
        var plan = s.Plan!;
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
}

/// <summary>A plan together with the open connections and reads it was made from.</summary>
public sealed class PlanSession(ISiteProgram site, StackState state) : IAsyncDisposable
{
    public ISiteProgram Site { get; } = site;
    public StackState State { get; internal set; } = state;
    public Plan? Plan { get; internal set; }
    internal ConcurrentDictionary<string, IHostTransport> Transports { get; } = new();
    internal ConcurrentDictionary<string, HostRead> Reads { get; } = new();
    internal ConcurrentDictionary<string, string> Problems { get; } = new();
    internal ConcurrentDictionary<string, LiveState?> Live { get; } = new();
    /// <summary>Lab hosts that are not there yet: not read, created by up.</summary>
    internal ImmutableHashSet<string> Missing { get; set; } = [];
    internal ImmutableDictionary<string, HostDesired> Desired { get; set; } = ImmutableDictionary<string, HostDesired>.Empty;

    /// <summary>Serializes changes to <see cref="State"/> and its writes.</summary>
    internal SemaphoreSlim StateGate { get; } = new(1, 1);

    public async ValueTask DisposeAsync()
    {
        foreach (var t in Transports.Values) await t.DisposeAsync();
        Transports.Clear();
    }
}
