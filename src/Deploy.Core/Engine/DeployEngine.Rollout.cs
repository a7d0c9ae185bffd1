using System.Collections.Concurrent;
using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Core.State;

namespace Deploy.Core.Engine;

// Up: the lab phase (removes and creates lab hosts, then plans again), rolls the hosts out in waves and batches with max-fail,
// records each host's outcome in the state as it finishes, then runs the site-wide checks.
public sealed partial class DeployEngine
{
    private async Task<ApplyReport> ApplyCoreAsync(PlanSession session, Action<PlanSession> replanned, CancellationToken ct)
    {
        var stack = session.Site.Stack;
        var shown = session.Plan!;

        // the lab's phase: containers of hosts gone from the inventory removed, missing ones created
        var labTiming = Metrics.Time(deps.Lab is null ? null : "lab");
        var (provisioned, created) = await lab.ProvisionAsync(session.Site, session.State, shown.Lab, deps.State, Options(ct), ct);
        labTiming.Dispose();
        session.State = provisioned;
        if (created)
        {
            // The new hosts can now be read like any other: plan again against what is really there.
            await session.DisposeAsync();
            session = await PlanAsync(session.Site, provisioned, ct);
            replanned(session);
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
            HostApply outcome;
            using (Metrics.Time("apply"))
                outcome = await ApplyHostAsync(session, host.Name, plan.Steps.Where(st => st.Host == host.Name).ToArray(), token);
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

    private static bool SameHost(StackState a, StackState b, string host)
    {
        var ra = a.Resources.Where(r => r.Host == host).ToList();
        var rb = b.Resources.Where(r => r.Host == host).ToList();
        return a.Hosts.TryGetValue(host, out var ha) && b.Hosts.TryGetValue(host, out var hb) && ha.Lab == hb.Lab && ha.Facts.SameAs(hb.Facts)
            && ra.Count == rb.Count
            && ra.Zip(rb).All(p => p.First.Urn == p.Second.Urn && p.First.Outputs.SequenceEqual(p.Second.Outputs) && p.First.Identity.SequenceEqual(p.Second.Identity));
    }

    private static StackState MergeHost(StackState state, HostTarget host, HostFacts facts, ImmutableArray<ResourceRecord> records) =>
        state with
        {
            Resources = [.. state.Resources.Where(r => r.Host != host.Name), .. records],
            Hosts = state.Hosts.SetItem(host.Name, new HostRecord(host.Name, host.Lab is not null, facts)),
        };
}
