using System.Collections.Concurrent;
using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Core.State;

namespace Deploy.Core.Engine;

// Refresh (drift between the hosts and the last applied state) and destroy (every resource, then the lab).
public sealed partial class DeployEngine
{
    // ---------------------------------------------------------------- refresh

    /// <summary>Reads the hosts and compares them with the last applied state; records what is live now.</summary>
    public Task<RefreshReport> RefreshAsync(ISiteProgram site, StackState state, bool save, CancellationToken ct) =>
        RefreshAsync(site, state, RunTargets.All, save, ct);

    /// <summary>Refresh of the targeted hosts and resources only: the others are not read, their records kept.</summary>
    public async Task<RefreshReport> RefreshAsync(ISiteProgram site, StackState state, RunTargets targets, bool save, CancellationToken ct)
    {
        await using var s = await PlanAsync(site, state, targets, ct);
        var drifts = new List<Drift>();
        var records = state.Resources.ToList();
        // on a host reached by URN only, the targeted resources (not the services their steps would restart)
        foreach (var step in s.Plan!.Steps.Where(st => st.Desired is not null && (targets.Whole(st.Host) || targets.Urns.Contains(st.Urn))))
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
                    if (now != v && !(Provider(step.Type) is IVolatileProperties moving && moving.IsVolatile(k)))
                        changes.Add(new PropertyChange(k, v, now));
                }
            if (changes.Count == 0) continue;
            drifts.Add(new Drift(step.Host, step.Urn, step.Name, [.. changes]));
            var i = records.FindIndex(r => r.Urn == rec.Urn);
            if (live is null) records.RemoveAt(i);
            else records[i] = rec with { Outputs = live.Props };
        }
        foreach (var gone in s.Missing.Where(targets.Reaches))
            drifts.Add(new Drift(gone, "", gone, [new PropertyChange("lab host", "exists", "missing")]));
        // what the hosts are now, for offline rendering (`render`) and the next run's first guess
        var hosts = state.Hosts;
        foreach (var (name, read) in s.Reads)
            if (hosts.TryGetValue(name, out var h) && h.Facts != read.Facts) hosts = hosts.SetItem(name, h with { Facts = read.Facts });
        if (save && (drifts.Count > 0 || hosts != state.Hosts))
            await deps.State.SaveAsync(state with { Resources = [.. records], Hosts = hosts, Updated = DateTimeOffset.UtcNow }, ct);
        return new RefreshReport([.. drifts], s.Plan.Problems);
    }

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
                var endpoint = target.Connection.Endpoint;
                deps.Log.Progress(new HostProgress(name, RunPhase.Connect, $"{endpoint.Address}:{endpoint.Port}"));
                await using var t = await connector.ConnectAsync(target.Connection, token);
                var run = new HostRun(t, state.Hosts[name].Facts);
                // what nf-deploy made is deleted in reverse order; then what it adopted is handed back in apply order
                // (a package left, its hand-written files restored, then its service as it was, on those files)
                var records = state.Resources.Where(r => r.Host == name).ToList();
                var order = records.Where(r => !Adopted(r)).Reverse().Concat(records.Where(Adopted)).ToList();
                foreach (var (rec, done) in order.Select((r, i) => (r, i)))
                {
                    deps.Log.Progress(new HostProgress(name, RunPhase.Delete, $"- {rec.Type} {rec.Name}", done, order.Count));
                    await DeleteOrReleaseAsync(rec, rec.Type, rec.Name, rec.Identity, run, token);
                }
                deps.Log.Progress(new HostProgress(name, RunPhase.Done, $"{order.Count} deleted", order.Count, order.Count));
            }
            catch (DeployException e)
            {
                // a host behind a down bastion says why (the bastion's reason is not in its own message)
                var message = e is BastionUnreachableException bastion ? $"{e.Message}: {bastion.Reason}" : e.Message;
                problems.Add(new HostProblem(name, message));
                deps.Log.Progress(new HostProgress(name, RunPhase.Failed, message));
            }
        });
        await lab.DestroyAsync(site, state, ct);
        bool Adopted(ResourceRecord r) => r.Adopted is not null && Provider(r.Type) is IAdoptable;
        if (problems.IsEmpty) await deps.State.DeleteAsync(site.Stack, ct);
        return [.. problems];
    }
}
