using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Core.State;
using Deploy.Core.Transport;

namespace Deploy.Core.Engine;

// One host's rollout: its steps in order (file sets together, restarts made due first), then its health checks,
// and the rollback of a host left unhealthy or with a service that did not start.
public sealed partial class DeployEngine
{
    private sealed record HostApply(HostOutcome Outcome, ImmutableArray<ResourceRecord> Records);

    private async Task<HostApply> ApplyHostAsync(PlanSession s, string host, IReadOnlyList<PlanStep> steps, CancellationToken ct)
    {
        var stack = s.Site.Stack;
        var read = s.Reads[host];
        var run = new HostRun(s.Transports[host], read.Facts);
        var records = new List<ResourceRecord>();
        var deleted = new HashSet<string>();
        var changed = 0;
        string? error = null;
        var sets = SetsOf(steps);
        PlanStep? failedStart = null;
        var madeDue = new List<PendingRestart>(); // restarts this run made due: void once its files are rolled back
        var total = steps.Count(st => st.Op != StepOp.Same);
        var (restarts, starts) = (0, 0);
        foreach (var step in steps)
        {
            var provider = Provider(step.Type);
            if (step.Op != StepOp.Same)
                deps.Log.Progress(new HostProgress(host, RunPhase.Apply, $"{step.Op.Symbol()} {step.Type} {step.Name}", changed, total));
            try
            {
                // brownfield: what a destroy puts back is kept before the first change (a hand-written file's original)
                if (step.Adopt && provider is IAdoptable adoptable)
                {
                    deps.Log.Host(host, $"= adopt {step.Type} {step.Name}");
                    await adoptable.KeepOriginalAsync(step.Desired!, run, ct);
                }
                // resources that change together (files validated with each other) are applied together, at the set's last step
                if (sets.TryGetValue(step.Urn, out var set) && provider is IApplyTogether together)
                {
                    if (set[^1].Urn != step.Urn) continue;
                    records.AddRange(await ApplySetAsync(s, host, steps, set, together, run, ct));
                    changed += set.Length;
                    continue;
                }
                if (step.Op == StepOp.Delete)
                {
                    await DeleteOrReleaseAsync(s.State.Find(step.Urn), step.Type, step.Name, step.Identity, run, ct);
                    deleted.Add(step.Urn);
                    changed++;
                    continue;
                }
                var spec = step.Desired!;
                var live = s.Live.GetValueOrDefault(spec.Key);
                // No lost restarts: before a file changes, the restarts it causes are written to the state, so that a run
                // that dies before them still restarts the services next time (Ansible loses its handlers there).
                PendingRestart[] due = [];
                if (step.Op != StepOp.Same && spec is INotifying { Notify.Length: > 0 } notifying)
                {
                    due = DueRestarts(s, host, steps, notifying.Notify);
                    if (due.Length > 0) { await UpdatePendingAsync(s, add: due, remove: []); madeDue.AddRange(due); }
                }
                if (step.Op != StepOp.Same)
                {
                    var reload = step.Triggers.FirstOrDefault(t => t.Kind == TriggerKind.ReloadDefinitions);
                    deps.Log.Host(host, $"{step.Op.Symbol()} {step.Type} {step.Name}" +
                        (reload is not null ? $" ({reload.Name})" : "") +
                        (step.Restarts ? " (restart: " + string.Join("; ", step.Triggers.Where(t => t.Starts).Select(t => t.Reason)) + ")" : ""));
                    try { live = await provider.ApplyAsync(spec, step.Diff, run, ct); }
                    catch (ResourceException) when (due.Length > 0 && !ct.IsCancellationRequested)
                    {
                        // the host said no (validation failed...): the file did not change, so neither restart is due.
                        // A lost connection is not this: whether the file changed is unknown, and the restart stays pending.
                        await UpdatePendingAsync(s, add: [], remove: due);
                        throw;
                    }
                    changed++;
                    if (step.Triggers.Has(TriggerKind.Restart)) restarts++;
                    else if (step.Triggers.Has(TriggerKind.Start)) starts++;
                    if (step.Restarts && s.State.PendingRestarts.Contains(new PendingRestart(host, step.Name)))
                        await UpdatePendingAsync(s, add: [], remove: [new PendingRestart(host, step.Name)]);
                }
                if (live is not null) records.Add(Record(s, step, live));
            }
            catch (DeployException e) when (e is not StateWriteException)
            {
                error = e.Message;
                deps.Log.Warn(host, e.Message);
                if (step.Restarts && !ct.IsCancellationRequested) failedStart = step;
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
            .Where(st => !deleted.Contains(st.Urn))
            .Select(st => records.FirstOrDefault(r => r.Urn == st.Urn) ?? s.State.Find(st.Urn))
            .OfType<ResourceRecord>()
            .ToImmutableArray();

        var health = ImmutableArray<(HealthCheckSpec Check, HealthResult Result)>.Empty;
        // A service that failed to start on this run's files is a host that cannot be healthy: rolled back the same way
        // (only the services restarted so far, the failed one included, are restarted on the previous files).
        if (failedStart is not null && !run.Written.IsEmpty && Rollbacks.Length > 0)
        {
            // a service started for the first time has no previous files to run on: it stays down
            var restarted = steps.TakeWhile(st => st != failedStart).Append(failedStart)
                .Where(st => st.Restarts && st.Op == StepOp.Update).ToList();
            (error, health) = await RollBackAsync(s, host, run, restarted, error!, health);
            if (health.All(h => h.Result.Healthy))
                await UpdatePendingAsync(s, add: [], remove: [.. restarted.Select(st => new PendingRestart(host, st.Name)).Concat(madeDue)]);
            return new HostApply(new HostOutcome(host, changed, error, health) { Restarts = restarts, Starts = starts },
                [.. steps.Select(st => s.State.Find(st.Urn)).OfType<ResourceRecord>()]);
        }
        if (error is null && ct.IsCancellationRequested) error = "cancelled before the health checks";
        if (error is null)
        {
            var checks = s.Desired[host].Health.Count(c => !c.SiteWide);
            if (checks > 0) deps.Log.Progress(new HostProgress(host, RunPhase.Health, $"{checks} health checks", changed, total));
            try { health = await CheckHealthAsync(s, host, run, ct); }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                error = "cancelled during the health checks";
                return new HostApply(new HostOutcome(host, changed, error, []) { Restarts = restarts, Starts = starts }, ordered);
            }
            // Health-gated rollback: a rollout that leaves the host unhealthy is undone (files restored from this run's
            // backups, the services restarted on them) and the host counts as failed.
            var sick = health.Where(h => !h.Result.Healthy).ToList();
            if (sick.Count > 0 && !run.Written.IsEmpty && Rollbacks.Length > 0)
            {
                var why = string.Join("; ", sick.Select(h => $"{h.Check.Describe()}: {h.Result.Detail}"));
                (error, health) = await RollBackAsync(s, host, run, [.. steps.Where(st => st.Restarts)], $"unhealthy after the rollout ({why})", health);
                records.Clear(); // the state keeps what the host has again: the previous records
                ordered = [.. steps.Select(st => s.State.Find(st.Urn)).OfType<ResourceRecord>()];
            }
        }
        return new HostApply(new HostOutcome(host, changed, error, health) { Restarts = restarts, Starts = starts }, ordered);
    }

    /// <summary>The state's record of an applied step: adopted when this step adopted it (with what the host had before),
    /// else as its previous record says (an adopted resource stays adopted).</summary>
    private static ResourceRecord Record(PlanSession s, PlanStep step, LiveState live) =>
        new(step.Urn, step.Type, step.Host, step.Name, step.Desired!.Identity, live.Props)
        {
            Adopted = step.Adopt ? s.Live.GetValueOrDefault(step.Desired.Key)?.Props ?? live.Props : s.State.Find(step.Urn)?.Adopted,
        };

    /// <summary>A resource the site no longer wants: deleted when nf-deploy made it, handed back when it was adopted.</summary>
    private async Task DeleteOrReleaseAsync(ResourceRecord? record, string type, string name,
        ImmutableSortedDictionary<string, string> identity, HostRun run, CancellationToken ct)
    {
        var provider = Provider(type);
        if (record?.Adopted is { } original && provider is IAdoptable adoptable)
        {
            deps.Log.Host(run.Transport.HostName, $"- {type} {name} (adopted: handed back as it was before nf-deploy)");
            await adoptable.ReleaseAsync(identity, original, run, ct);
            return;
        }
        deps.Log.Host(run.Transport.HostName, $"- {type} {name}");
        await provider.DeleteAsync(identity, run, ct);
    }

    /// <summary>The restarts a change of a resource that notifies <paramref name="notify"/> makes due (not pending yet).</summary>
    private static PendingRestart[] DueRestarts(PlanSession s, string host, IReadOnlyList<PlanStep> steps, IEnumerable<string> notify)
    {
        var names = notify.ToHashSet(StringComparer.Ordinal);
        return [.. steps.Where(o => o.Restarts && names.Contains(o.Name)).Select(o => new PendingRestart(host, o.Name)).Except(s.State.PendingRestarts)];
    }

    private async Task<ImmutableArray<(HealthCheckSpec Check, HealthResult Result)>> CheckHealthAsync(PlanSession s, string host, HostRun run, CancellationToken ct, bool siteWide = false)
    {
        var checks = s.Desired[host].Health.Where(c => c.SiteWide == siteWide);
        using var timing = Metrics.Time("health");
        // a site-wide check may reach the other hosts too (a call test reads every node's registrations)
        var transport = siteWide ? new SiteTransport(run.Transport, s.Transports) : run.Transport;
        var results = await Task.WhenAll(checks.Select(async c => (c, await deps.Health.CheckAsync(c, transport, deps.Options.HealthTimeout, ct))));
        foreach (var (c, r) in results)
            deps.Log.Host(host, (r.Healthy ? "healthy: " : "UNHEALTHY: ") + c.Describe() + (r.Healthy ? "" : " — " + r.Detail));
        return [.. results];
    }
}
