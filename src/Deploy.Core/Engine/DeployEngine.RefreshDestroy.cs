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
                    if (now != v && !(Provider(step.Type) is IVolatileProperties moving && moving.IsVolatile(k)))
                        changes.Add(new PropertyChange(k, v, now));
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
                await using var t = await connector.ConnectAsync(target.Connection, token);
                var run = new HostRun(t, state.Hosts[name].Facts);
                foreach (var rec in state.Resources.Where(r => r.Host == name).Reverse())
                {
                    deps.Log.Host(name, $"- {rec.Type} {rec.Name}");
                    await Provider(rec.Type).DeleteAsync(rec.Identity, run, token);
                }
            }
            catch (DeployException e) { problems.Add(new HostProblem(name, e.Message)); }
        });
        await lab.DestroyAsync(site, state, ct);
        if (problems.IsEmpty) await deps.State.DeleteAsync(site.Stack, ct);
        return [.. problems];
    }
}
