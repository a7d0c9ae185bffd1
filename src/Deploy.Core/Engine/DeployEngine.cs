using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text;
using Deploy.Core.Lab;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Core.State;
using Deploy.Core.Transport;

namespace Deploy.Core.Engine;

public sealed record EngineOptions
{
    /// <summary>Hosts read and applied at once.</summary>
    public int Parallelism { get; init; } = 16;

    /// <summary>How long a health check may take to pass after a rollout.</summary>
    public TimeSpan HealthTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>What the engine works with: transports, lab, providers, health checks, state and a log.</summary>
public sealed record EngineDeps(
    IHostConnector Connector,
    ILabProvider? Lab,
    IHostKeyStore? HostKeys,
    ImmutableDictionary<string, IResourceProvider> Providers,
    IHealthChecker Health,
    IStateStore State,
    IRunLog Log,
    EngineOptions Options);

/// <summary>
/// The engine: reads every host once (facts + live state in one round trip, hosts in parallel), renders the site,
/// diffs desired against live, and applies the plan host by host. It knows nothing of SSH, Docker or YAML.
/// </summary>
public sealed partial class DeployEngine(EngineDeps deps)
{
    private IResourceProvider Provider(string type) =>
        deps.Providers.TryGetValue(type, out var p) ? p : throw new DeployException($"no provider for resource type {type}");

    // ---------------------------------------------------------------- preview

    /// <summary>Reads the hosts and plans. The returned session keeps the connections open for <see cref="ApplyAsync"/>.</summary>
    public async Task<PlanSession> PlanAsync(ISiteProgram site, StackState state, CancellationToken ct)
    {
        var session = new PlanSession(site, state);
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            await ReadHostsAsync(session, ct);
            deps.Log.Info($"read {session.Reads.Count} hosts in {clock.ElapsedMilliseconds} ms");
            session.Plan = BuildPlan(session);
            await AttachContentDiffsAsync(session, ct);
            deps.Log.Info($"planned in {clock.ElapsedMilliseconds} ms");
            return session;
        }
        catch
        {
            await session.DisposeAsync();
            throw;
        }
    }

    private async Task ReadHostsAsync(PlanSession s, CancellationToken ct)
    {
        var site = s.Site;
        var existingLab = site.Lab is null || deps.Lab is null
            ? []
            : (await deps.Lab.ReadAsync(site.Stack, ct)).Where(h => h.Running).Select(h => h.Name).ToHashSet();

        // Render with the best facts known before contacting anyone, to know what to probe in the same round trip.
        var known = site.Hosts.ToDictionary(h => h.Name, h => BestKnownFacts(h, s.State));
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

    private static HostFacts BestKnownFacts(HostTarget h, StackState state) =>
        state.Hosts.TryGetValue(h.Name, out var rec) ? rec.Facts
        : h.AssumedFacts ?? HostFacts.Assumed(h.Name, h.Connection.Endpoint.Address);

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

    // ---------------------------------------------------------------- up

    /// <summary>Applies a plan: creates missing lab hosts (then re-reads them), applies every host's steps in order,
    /// runs health checks and records the state of each host as it finishes.</summary>
    public async Task<ApplyReport> ApplyAsync(PlanSession session, CancellationToken ct)
    {
        var replanned = false;
        try { return await ApplyCoreAsync(session, r => { session = r; replanned = true; }, ct); }
        finally { if (replanned) await session.DisposeAsync(); }
    }

    private async Task<ApplyReport> ApplyCoreAsync(PlanSession session, Action<PlanSession> replanned, CancellationToken ct)
    {
        var stack = session.Site.Stack;
        var shown = session.Plan!;

        if (session.Site.Lab is { } lab && deps.Lab is { } labProvider)
        {
            var removals = shown.Steps.Where(st => st.Type == ResourceTypes.LabHost && st.Op == StepOp.Delete).ToArray();
            foreach (var r in removals)
            {
                deps.Log.Host(r.Host, "removing lab host");
                await labProvider.DeleteHostAsync(stack, r.Host, ct);
                var addr = session.State.Hosts.GetValueOrDefault(r.Host)?.Facts.DefaultIPv4;
                if (addr is not null) deps.HostKeys?.Forget(addr, 22);
            }
            if (removals.Length > 0)
            {
                var gone = removals.Select(r => r.Host).ToHashSet();
                session.State = session.State with
                {
                    Hosts = session.State.Hosts.RemoveRange(gone),
                    Resources = [.. session.State.Resources.Where(r => !gone.Contains(r.Host))],
                };
                await deps.State.SaveAsync(session.State with { Updated = DateTimeOffset.UtcNow }, ct);
            }
            if (session.Missing.Count > 0)
            {
                var toCreate = session.Site.Hosts.Where(h => session.Missing.Contains(h.Name) && h.Lab is not null).ToArray();
                await System.Threading.Tasks.Parallel.ForEachAsync(toCreate, Options(ct), async (h, token) =>
                {
                    deps.Log.Host(h.Name, $"creating lab host at {h.Lab!.Address}");
                    deps.HostKeys?.Forget(h.Lab.Address, 22);
                    await labProvider.EnsureHostAsync(lab, h.Lab, token);
                });
                // The new hosts can now be read like any other: plan again against what is really there.
                var state = session.State;
                await session.DisposeAsync();
                session = await PlanAsync(session.Site, state, ct);
                replanned(session);
            }
        }

        var plan = session.Plan!;
        var outcomes = new ConcurrentBag<HostOutcome>();
        var stateGate = session.StateGate;
        var hostsWithSteps = session.Site.Hosts.Where(h => session.Reads.ContainsKey(h.Name) && !session.Problems.ContainsKey(h.Name)).ToArray();

        // Hosts whose running services this run restarts roll out in batches per group (a cluster never loses all its
        // members at once); the others (nothing to restart, or new hosts) go all at once.
        bool RestartsRunning(HostTarget h) => plan.Steps.Any(st => st.Host == h.Name && st.Restarts && st.Op == StepOp.Update);
        var waves = hostsWithSteps.Where(h => !RestartsRunning(h)).Select(h => (IReadOnlyList<HostTarget>)[h])
            .Concat(hostsWithSteps.Where(RestartsRunning).GroupBy(h => h.Rollout.Group).Select(g => (IReadOnlyList<HostTarget>)[.. g]))
            .ToArray();
        await System.Threading.Tasks.Parallel.ForEachAsync(waves, Options(ct), async (wave, token) =>
        {
            var batch = wave[0].Rollout.BatchSize(wave.Count);
            var failed = 0;
            for (var i = 0; i < wave.Count; i += batch)
            {
                var hosts = wave.Skip(i).Take(batch).ToArray();
                if (token.IsCancellationRequested)
                {
                    foreach (var h in hosts) outcomes.Add(new HostOutcome(h.Name, 0, "not touched: the run was cancelled", []));
                    continue;
                }
                if (wave.Count > 1 && failed * 100 > wave[0].Rollout.MaxFailPercent * wave.Count)
                {
                    foreach (var h in hosts)
                        outcomes.Add(new HostOutcome(h.Name, 0, $"not touched: the rollout of group {h.Rollout.Group} stopped after {failed} of {wave.Count} hosts failed", []));
                    continue;
                }
                var results = await Task.WhenAll(hosts.Select(h => ApplyAndRecordAsync(h, token)));
                failed += results.Count(ok => !ok);
            }
        });

        // site-wide checks (peers open...) once every host is rolled out: reported, never rolled back
        var final = new ConcurrentBag<HostOutcome>();
        await System.Threading.Tasks.Parallel.ForEachAsync(outcomes, Options(ct), async (o, token) =>
        {
            if (o.Error is not null || !session.Transports.TryGetValue(o.Host, out var t)) { final.Add(o); return; }
            var site = await CheckHealthAsync(session, o.Host, new HostRun(t, session.Reads[o.Host].Facts), token, siteWide: true);
            final.Add(o with { Health = o.Health.AddRange(site) });
        });
        return new ApplyReport(plan, [.. final.OrderBy(o => o.Host)]);

        async Task<bool> ApplyAndRecordAsync(HostTarget host, CancellationToken token)
        {
            var outcome = await ApplyHostAsync(session, host.Name, plan.Steps.Where(st => st.Host == host.Name).ToArray(), token);
            outcomes.Add(outcome.Outcome);
            // What was applied is recorded even when the run is being cancelled (a local write of a few ms).
            await stateGate.WaitAsync(CancellationToken.None);
            try
            {
                var merged = MergeHost(session.State, host, session.Reads[host.Name].Facts, outcome.Records);
                // a host where nothing moved costs no state write (a no-op run writes nothing)
                if (!SameHost(session.State, merged, host.Name))
                {
                    session.State = merged;
                    await deps.State.SaveAsync(session.State with { Updated = DateTimeOffset.UtcNow }, CancellationToken.None);
                }
            }
            finally { stateGate.Release(); }
            return outcome.Outcome.Ok;
        }
    }

    private sealed record HostApply(HostOutcome Outcome, ImmutableArray<ResourceRecord> Records);

    /// <summary>Records restarts that became due (before the file that causes them changes) or were made. Not
    /// cancellable: once a step started, what it means for the next run must reach the state file.</summary>
    private async Task UpdatePendingAsync(PlanSession s, IReadOnlyList<string> add, IReadOnlyList<string> remove)
    {
        await s.StateGate.WaitAsync(CancellationToken.None);
        try
        {
            var pending = s.State.PendingRestarts.Except(remove).Union(add).ToImmutableArray();
            if (pending.SequenceEqual(s.State.PendingRestarts)) return;
            s.State = s.State with { PendingRestarts = pending };
            try { await deps.State.SaveAsync(s.State with { Updated = DateTimeOffset.UtcNow }, CancellationToken.None); }
            catch (Exception e) when (e is DeployException or IOException or UnauthorizedAccessException && e is not StateWriteException)
            {
                // not this host's fault: the run stops (see the catch in ApplyHostAsync), nothing is rolled back for it
                throw new StateWriteException(e is DeployException ? e.Message : $"the state of stack {s.Site.Stack} could not be written; the run stops: {e.Message}", e);
            }
        }
        finally { s.StateGate.Release(); }
    }

    private async Task<HostApply> ApplyHostAsync(PlanSession s, string host, IReadOnlyList<PlanStep> steps, CancellationToken ct)
    {
        var stack = s.Site.Stack;
        var read = s.Reads[host];
        var run = new HostRun(s.Transports[host], read.Facts);
        var records = new List<ResourceRecord>();
        var deleted = new HashSet<string>();
        var changed = 0;
        string? error = null;
        var sets = FileSets.Of(steps);
        PlanStep? failedStart = null;
        var madeDue = new List<string>(); // restarts this run made due: void once its files are rolled back
        foreach (var step in steps.Where(st => st.Type != ResourceTypes.LabHost))
        {
            var provider = Provider(step.Type);
            try
            {
                // files that change together are written together, at the set's last changing file
                if (sets.TryGetValue(step.Urn, out var set) && provider is IFileSetApply together)
                {
                    if (set[^1].Urn != step.Urn) continue;
                    records.AddRange(await ApplySetAsync(s, host, steps, set, together, run, ct));
                    changed += set.Length;
                    continue;
                }
                if (step.Op == StepOp.Delete)
                {
                    deps.Log.Host(host, $"- {step.Type} {step.Name}");
                    await provider.DeleteAsync(step.Identity, run, ct);
                    deleted.Add(step.Urn);
                    changed++;
                    continue;
                }
                var spec = step.Desired!;
                var live = s.Live.GetValueOrDefault(spec.Key);
                // No lost restarts: before a file changes, the restarts it causes are written to the state, so that a run
                // that dies before them still restarts the services next time (Ansible loses its handlers there).
                string[] due = [];
                if (step.Op != StepOp.Same && spec is INotifying { Notify.Length: > 0 } notifying)
                {
                    due = [.. steps.Where(o => o.Desired is ServiceSpec svc && notifying.Notify.Contains(svc.Name) && o.Restarts)
                        .Select(o => $"{host}:{o.Name}").Except(s.State.PendingRestarts)];
                    if (due.Length > 0) { await UpdatePendingAsync(s, add: due, remove: []); madeDue.AddRange(due); }
                }
                if (step.Op != StepOp.Same)
                {
                    deps.Log.Host(host, $"{step.Op.Symbol()} {step.Type} {step.Name}" +
                        (step.Changes.Any(c => c.Name == "daemon-reload") ? " (daemon-reload)" : "") +
                        (step.Restarts ? " (restart: " + string.Join("; ", step.Changes.Where(c => c.Name is "restart" or "start").Select(c => c.After)) + ")" : ""));
                    try { live = await provider.ApplyAsync(spec, step.Diff, run, ct); }
                    catch (ResourceException) when (due.Length > 0 && !ct.IsCancellationRequested)
                    {
                        // the host said no (validation failed...): the file did not change, so neither restart is due.
                        // A lost connection is not this: whether the file changed is unknown, and the restart stays pending.
                        await UpdatePendingAsync(s, add: [], remove: due);
                        throw;
                    }
                    changed++;
                    if (spec is ServiceSpec && step.Restarts && s.State.PendingRestarts.Contains($"{host}:{step.Name}"))
                        await UpdatePendingAsync(s, add: [], remove: [$"{host}:{step.Name}"]);
                }
                if (live is not null)
                    records.Add(new ResourceRecord(step.Urn, step.Type, host, step.Name, spec.Identity, live.Props));
            }
            catch (DeployException e) when (e is not StateWriteException)
            {
                error = e.Message;
                deps.Log.Warn(host, e.Message);
                if (step.Desired is ServiceSpec && step.Restarts && !ct.IsCancellationRequested) failedStart = step;
                break;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                // Ctrl-C / SIGTERM: this step is abandoned (a file on the host is replaced whole or not at all) and
                // the steps after it are not started; the restarts it made due stay pending in the state.
                error = $"cancelled during {step.Type} {step.Name}";
                deps.Log.Warn(host, error);
                break;
            }
        }

        // Resources not reached because of a failure (deletes included) keep their previous record, so state stays truthful.
        var ordered = steps
            .Where(st => st.Type != ResourceTypes.LabHost && !deleted.Contains(st.Urn))
            .Select(st => records.FirstOrDefault(r => r.Urn == st.Urn) ?? s.State.Find(st.Urn))
            .OfType<ResourceRecord>()
            .ToImmutableArray();

        var health = ImmutableArray<(HealthCheckSpec Check, HealthResult Result)>.Empty;
        // A service that failed to start on this run's files is a host that cannot be healthy: rolled back the same way
        // (only the services restarted so far, the failed one included, are restarted on the previous files).
        if (failedStart is not null && !run.Written.IsEmpty && deps.Providers.GetValueOrDefault(ResourceTypes.File) is IRollback undo)
        {
            // a service started for the first time has no previous files to run on: it stays down
            var restarted = steps.TakeWhile(st => st != failedStart).Append(failedStart)
                .Where(st => st.Desired is ServiceSpec && st.Restarts && st.Op == StepOp.Update).ToList();
            (error, health) = await RollBackAsync(s, host, run, undo, restarted, error!, health);
            if (health.All(h => h.Result.Healthy))
                await UpdatePendingAsync(s, add: [], remove: [.. restarted.Select(st => $"{host}:{st.Name}").Concat(madeDue)]);
            return new HostApply(new HostOutcome(host, changed, error, health),
                [.. steps.Where(st => st.Type != ResourceTypes.LabHost).Select(st => s.State.Find(st.Urn)).OfType<ResourceRecord>()]);
        }
        if (error is null && ct.IsCancellationRequested) error = "cancelled before the health checks";
        if (error is null)
        {
            try { health = await CheckHealthAsync(s, host, run, ct); }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                error = "cancelled during the health checks";
                return new HostApply(new HostOutcome(host, changed, error, []), ordered);
            }
            // Health-gated rollback: a rollout that leaves the host unhealthy is undone (files restored from this run's
            // backups, the services restarted on them) and the host counts as failed.
            var sick = health.Where(h => !h.Result.Healthy).ToList();
            if (sick.Count > 0 && !run.Written.IsEmpty && deps.Providers.GetValueOrDefault(ResourceTypes.File) is IRollback rollback)
            {
                var why = string.Join("; ", sick.Select(h => $"{h.Check.Describe()}: {h.Result.Detail}"));
                (error, health) = await RollBackAsync(s, host, run, rollback, [.. steps.Where(st => st.Desired is ServiceSpec && st.Restarts)],
                    $"unhealthy after the rollout ({why})", health);
                records.Clear(); // the state keeps what the host has again: the previous records
                ordered = [.. steps.Where(st => st.Type != ResourceTypes.LabHost).Select(st => s.State.Find(st.Urn)).OfType<ResourceRecord>()];
            }
        }
        return new HostApply(new HostOutcome(host, changed, error, health), ordered);
    }

    private static bool SameHost(StackState a, StackState b, string host)
    {
        var ra = a.Resources.Where(r => r.Host == host).ToList();
        var rb = b.Resources.Where(r => r.Host == host).ToList();
        return a.Hosts.TryGetValue(host, out var ha) && b.Hosts.TryGetValue(host, out var hb) && ha.Lab == hb.Lab && ha.Facts.SameAs(hb.Facts)
            && ra.Count == rb.Count
            && ra.Zip(rb).All(p => p.First.Urn == p.Second.Urn && p.First.Outputs.SequenceEqual(p.Second.Outputs) && p.First.Identity.SequenceEqual(p.Second.Identity));
    }

    private async Task<ImmutableArray<(HealthCheckSpec Check, HealthResult Result)>> CheckHealthAsync(PlanSession s, string host, HostRun run, CancellationToken ct, bool siteWide = false)
    {
        var checks = s.Desired[host].Health.Where(c => c.SiteWide == siteWide);
        // a site-wide check may reach the other hosts too (a call test reads every node's registrations)
        var transport = siteWide ? new SiteTransport(run.Transport, s.Transports) : run.Transport;
        var results = await Task.WhenAll(checks.Select(async c => (c, await deps.Health.CheckAsync(c, transport, deps.Options.HealthTimeout, ct))));
        foreach (var (c, r) in results)
            deps.Log.Host(host, (r.Healthy ? "healthy: " : "UNHEALTHY: ") + c.Describe() + (r.Healthy ? "" : " — " + r.Detail));
        return [.. results];
    }

    private static StackState MergeHost(StackState state, HostTarget host, HostFacts facts, ImmutableArray<ResourceRecord> records) =>
        state with
        {
            Resources = [.. state.Resources.Where(r => r.Host != host.Name), .. records],
            Hosts = state.Hosts.SetItem(host.Name, new HostRecord(host.Name, host.Lab is not null, facts)),
        };

    // ---------------------------------------------------------------- refresh

    /// <summary>Reads the hosts and compares them with the last applied state; records what is live now.</summary>
    public async Task<RefreshReport> RefreshAsync(ISiteProgram site, StackState state, bool save, CancellationToken ct)
    {
        await using var s = await PlanAsync(site, state, ct);
        var drifts = new List<Drift>();
        var records = state.Resources.ToList();
        foreach (var step in s.Plan!.Steps.Where(st => st.Desired is not null))
        {
            var rec = state.Find(step.Urn);
            if (rec is null) continue;
            var live = s.Live.GetValueOrDefault(step.Desired!.Key);
            var changes = new List<PropertyChange>();
            if (live is null)
                changes.Add(new PropertyChange("exists", "yes", "no"));
            else
                foreach (var (k, v) in rec.Outputs)
                {
                    var now = live[k];
                    if (now != v && !Volatile(k)) changes.Add(new PropertyChange(k, v, now));
                }
            if (changes.Count == 0) continue;
            drifts.Add(new Drift(step.Host, step.Urn, step.Name, [.. changes]));
            var i = records.FindIndex(r => r.Urn == rec.Urn);
            if (live is null) records.RemoveAt(i);
            else records[i] = rec with { Outputs = live.Props };
        }
        foreach (var gone in s.Missing) drifts.Add(new Drift(gone, "", gone, [new PropertyChange("lab host", "exists", "missing")]));
        // what the hosts are now, for offline rendering (`render`) and the next run's first guess
        var hosts = state.Hosts;
        foreach (var (name, read) in s.Reads)
            if (hosts.TryGetValue(name, out var h) && h.Facts != read.Facts) hosts = hosts.SetItem(name, h with { Facts = read.Facts });
        if (save && (drifts.Count > 0 || hosts != state.Hosts))
            await deps.State.SaveAsync(state with { Resources = [.. records], Hosts = hosts, Updated = DateTimeOffset.UtcNow }, ct);
        return new RefreshReport([.. drifts], s.Plan.Problems);
    }

    /// <summary>Properties that change without anyone changing the resource (a restarted daemon's pid, mtimes).</summary>
    private static bool Volatile(string key) => key is "pid" or "mtime";

    // ---------------------------------------------------------------- destroy

    /// <summary>Deletes every resource the state knows, in reverse order; lab hosts are removed whole.</summary>
    public async Task<ImmutableArray<HostProblem>> DestroyAsync(ISiteProgram site, StackState state, CancellationToken ct)
    {
        var problems = new ConcurrentBag<HostProblem>();
        var targets = site.Hosts.ToDictionary(h => h.Name);
        var realHosts = state.Hosts.Values.Where(h => !h.Lab).Select(h => h.Name).ToArray();
        await System.Threading.Tasks.Parallel.ForEachAsync(realHosts, Options(ct), async (name, token) =>
        {
            if (!targets.TryGetValue(name, out var target))
            {
                problems.Add(new HostProblem(name, "no longer in the inventory: cannot reach it to delete its resources"));
                return;
            }
            try
            {
                await using var t = await deps.Connector.ConnectAsync(target.Connection, token);
                var run = new HostRun(t, state.Hosts[name].Facts);
                foreach (var rec in state.Resources.Where(r => r.Host == name).Reverse())
                {
                    deps.Log.Host(name, $"- {rec.Type} {rec.Name}");
                    await Provider(rec.Type).DeleteAsync(rec.Identity, run, token);
                }
            }
            catch (DeployException e) { problems.Add(new HostProblem(name, e.Message)); }
        });
        if (deps.Lab is not null && (site.Lab is not null || state.Hosts.Values.Any(h => h.Lab)))
        {
            deps.Log.Info($"removing lab hosts and network of stack {site.Stack}");
            await deps.Lab.DestroyAsync(site.Stack, ct);
            foreach (var h in state.Hosts.Values.Where(h => h.Lab))
                if (h.Facts.DefaultIPv4 is { } ip) deps.HostKeys?.Forget(ip, 22);
            foreach (var h in site.Hosts.Where(h => h.Lab is not null))
                deps.HostKeys?.Forget(h.Lab!.Address, 22);
        }
        if (problems.IsEmpty) await deps.State.DeleteAsync(site.Stack, ct);
        return [.. problems];
    }

    private ParallelOptions Options(CancellationToken ct) =>
        new() { MaxDegreeOfParallelism = Math.Max(1, deps.Options.Parallelism), CancellationToken = ct };
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
