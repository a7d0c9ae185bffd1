using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text;
using Deploy.Core.Model;
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
        var existingLab = site.Lab is null || deps.Lab is null
            ? []
            : (await deps.Lab.ReadAsync(site.Stack, ct)).Where(h => h.Running).Select(h => h.Name).ToHashSet();

        // Render with the best facts known before contacting anyone, to know what to probe in the same round trip.
        var known = site.Hosts.ToDictionary(h => h.Name, h => h.FactsOrAssumed(s.State.Hosts.GetValueOrDefault(h.Name)?.Facts));
        ImmutableArray<HostDesired>? preliminary = null;
        try { preliminary = site.Materialize(known, ct); }
        catch (SiteErrors) { /* facts only a live host can give: probe after the facts are in */ }
        var preDesired = preliminary?.ToDictionary(d => d.Host);

        await System.Threading.Tasks.Parallel.ForEachAsync(site.Hosts, Options(ct), async (host, token) =>
        {
            if (host.Lab is not null && !existingLab.Contains(host.Name))
            {
                s.Missing.Add(host.Name);
                return;
            }
            try
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var transport = await deps.Connector.ConnectAsync(host.Connection, token);
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
        var script = HostReader.Build(specs, Provider);
        var result = await transport.RunAsync(script.Text, ct);
        return script.Parse(host, result.Stdout);
    }

    private Plan BuildPlan(PlanSession s)
    {
        var stack = s.Site.Stack;
        var steps = new List<PlanStep>();
        var siteHosts = s.Site.Hosts.Select(h => h.Name).ToHashSet();

        // Lab hosts that are gone from the inventory (e.g. a smaller count): their containers go, with everything on them.
        foreach (var gone in s.State.Hosts.Values.Where(h => h.Lab && !siteHosts.Contains(h.Name)))
            steps.Add(LabStep(stack, gone.Name, StepOp.Delete));

        foreach (var host in s.Site.Hosts)
        {
            if (s.Problems.ContainsKey(host.Name)) continue;
            if (host.Lab is not null)
                steps.Add(LabStep(stack, host.Name, s.Missing.Contains(host.Name) ? StepOp.Create : StepOp.Same));
            var desired = s.Desired[host.Name].Resources;
            var read = s.Reads.GetValueOrDefault(host.Name);
            var facts = read?.Facts;
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
                    live = provider.Parse(spec, kv, facts!);
                var diff = provider.Diff(spec, live);
                s.Live[spec.Key] = live;
                hostSteps.Add(new PlanStep(host.Name, spec.Urn(stack), spec.Type, spec.Name, diff.Op, diff.Changes, spec, spec.Identity));
            }
            steps.AddRange(PropagateRestarts(hostSteps, s.State.PendingRestarts.Where(p => p.StartsWith(host.Name + ":", StringComparison.Ordinal))
                .Select(p => p[(host.Name.Length + 1)..]).ToHashSet(), systemd: facts?.InitSystem == "systemd"));
        }
        var problems = s.Problems.Select(p => new HostProblem(p.Key, p.Value)).OrderBy(p => p.Host).ToImmutableArray();
        return new Plan(stack, [.. steps], problems);
    }

    private static PlanStep LabStep(string stack, string host, StepOp op) =>
        new(host, $"urn:pulumi:{stack}::nf-deploy::{ResourceTypes.LabHost}::{host}", ResourceTypes.LabHost, host, op, [], null,
            ImmutableSortedDictionary<string, string>.Empty.Add("host", host));

    /// <summary>A service restarts when a file that notifies it changes, when a restart was left pending by a run that
    /// died between changing the file and restarting it, and starts when its package is newly installed. Under systemd,
    /// a changed unit file (or drop-in) of the service makes systemd reload its units first. A service that must not run
    /// is stopped after the install of a package that brings (and starts) it.</summary>
    public static IEnumerable<PlanStep> PropagateRestarts(IReadOnlyList<PlanStep> hostSteps, IReadOnlySet<string>? pending = null, bool systemd = false)
    {
        var byName = hostSteps.Where(s => s.Desired is not null).ToDictionary(s => (s.Type, s.Name));
        foreach (var step in hostSteps)
        {
            if (step.Desired is not ServiceSpec svc || step.Op == StepOp.Delete) { yield return step; continue; }
            var changes = step.Changes.ToList();
            var units = systemd && step.Op != StepOp.Create
                ? hostSteps.Where(o => o.Op is StepOp.Create or StepOp.Update or StepOp.Replace && o.Desired is FileSpec f && SystemdUnits.Configures(f.Path, svc.Service))
                    .Select(o => ((FileSpec)o.Desired!).Path).ToList()
                : [];
            if (units.Count > 0) changes.Insert(0, new PropertyChange("daemon-reload", null, string.Join(", ", units) + " changed"));
            if (!svc.Running)
            {
                if (svc.Package is not null && byName.TryGetValue((ResourceTypes.Package, svc.Package), out var brings) && brings.Op == StepOp.Create)
                {
                    if (!changes.Any(c => c.Name == "running"))
                        changes.Add(new PropertyChange("running", null, $"no (package {svc.Package} newly installed starts it)"));
                    if (svc.Masked && !changes.Any(c => c.Name == "masked"))
                        changes.Add(new PropertyChange("masked", null, "yes"));
                    else if (!svc.Masked && !svc.Enabled && !changes.Any(c => c.Name == "enabled"))
                        changes.Add(new PropertyChange("enabled", null, $"no (package {svc.Package} newly installed enables it)"));
                }
                yield return step with { Op = step.Op == StepOp.Same && changes.Count > 0 ? StepOp.Update : step.Op, Changes = [.. changes] };
                continue;
            }
            var notifiers = hostSteps
                .Where(o => o.Op is StepOp.Create or StepOp.Update or StepOp.Replace && o.Desired is INotifying n && n.Notify.Contains(svc.Name))
                .Select(o => o.Desired is FileSpec f ? f.Path : $"{o.Type} {o.Name}")
                .ToList();
            if (notifiers.Count > 0 && step.Op != StepOp.Create)
                changes.Add(new PropertyChange("restart", null, string.Join(", ", notifiers) + " changed"));
            else if (pending?.Contains(svc.Name) == true && step.Op != StepOp.Create)
                changes.Add(new PropertyChange("restart", null, "left pending by an interrupted run"));
            if (svc.Package is not null && byName.TryGetValue((ResourceTypes.Package, svc.Package), out var pkg) && pkg.Op == StepOp.Create
                && !changes.Any(c => c.Name is "start" or "restart"))
                changes.Add(new PropertyChange("start", null, $"package {svc.Package} newly installed"));
            var op = step.Op == StepOp.Same && changes.Count > 0 ? StepOp.Update : step.Op;
            yield return step with { Op = op, Changes = [.. changes] };
        }
    }

    /// <summary>Fetches the current content of changed files (one round trip per host) and attaches unified diffs.</summary>
    private async Task AttachContentDiffsAsync(PlanSession s, CancellationToken ct)
    {
        var plan = s.Plan!;
        var wanted = plan.Steps
            .Where(st => st.Desired is FileSpec { Secret: false } && st.Op is StepOp.Update)
            .GroupBy(st => st.Host)
            .ToArray();
        var contents = new ConcurrentDictionary<string, string>();
        await System.Threading.Tasks.Parallel.ForEachAsync(wanted, Options(ct), async (group, token) =>
        {
            if (!s.Transports.TryGetValue(group.Key, out var t)) return;
            var sb = new StringBuilder();
            foreach (var st in group.Where(x => x.Op == StepOp.Update))
            {
                var f = (FileSpec)st.Desired!;
                sb.Append(ContentFetch.Script(st.Urn, f));
            }
            if (sb.Length == 0) return;
            var res = await t.RunAsync(sb.ToString(), token);
            string? urn = null;
            foreach (var line in res.Stdout.Split('\n'))
            {
                if (line.StartsWith("##nfd:r ", StringComparison.Ordinal)) { urn = line[8..]; continue; }
                if (urn is null) continue;
                try { contents[urn] = Encoding.UTF8.GetString(Convert.FromBase64String(line.Trim())); }
                catch (FormatException) { contents[urn] = ""; }
                urn = null;
            }
        });
        s.Plan = plan with
        {
            Steps = [.. plan.Steps.Select(st =>
            {
                // diffs for updates only: a new file's content is all of it (render shows it)
                if (st.Desired is not FileSpec { Secret: false } f || st.Op != StepOp.Update) return st;
                var after = f.Block is null ? f.Content : f.BlockText;
                var before = contents.GetValueOrDefault(st.Urn);
                if (before is null || before == after) return st;
                return st with { ContentDiff = UnifiedDiff.Create(before, after, $"{st.Host}:{f.Path} (live)", $"{st.Host}:{f.Path} (desired)") };
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
    internal ConcurrentBag<string> Missing { get; } = [];
    internal ImmutableDictionary<string, HostDesired> Desired { get; set; } = ImmutableDictionary<string, HostDesired>.Empty;

    /// <summary>Serializes changes to <see cref="State"/> and its writes.</summary>
    internal SemaphoreSlim StateGate { get; } = new(1, 1);

    public async ValueTask DisposeAsync()
    {
        foreach (var t in Transports.Values) await t.DisposeAsync();
        Transports.Clear();
    }
}
