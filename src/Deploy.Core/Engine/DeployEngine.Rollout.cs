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
            session = await PlanAsync(session.Site, provisioned, session.Targets, ct);
            replanned(session);
        }

        var plan = session.Plan!;
        var outcomes = new ConcurrentBag<HostOutcome>();
        var hostsWithSteps = session.Site.Hosts.Where(h => session.Reads.ContainsKey(h.Name) && !session.Problems.ContainsKey(h.Name))
            .Where(h => !session.RestartOnly || plan.Steps.Any(st => st.Host == h.Name)).ToArray();

        // Hosts whose running services this run restarts roll out in batches per group, the others all at once (RolloutWaves:
        // the batches preview shows).
        var targets = hostsWithSteps.ToDictionary(h => h.Name);
        var waves = RolloutWaves.Of(hostsWithSteps, plan.Steps);
        await System.Threading.Tasks.Parallel.ForEachAsync(waves, Options(ct), async (wave, token) =>
        {
            var failed = 0;
            foreach (var batch in wave.Batches)
            {
                var hosts = batch.Select(name => targets[name]).ToArray();
                if (token.IsCancellationRequested)
                {
                    foreach (var h in hosts) Untouched(h.Name, "not touched: the run was cancelled");
                    continue;
                }
                if (wave.HostCount > 1 && failed * 100 > wave.MaxFailPercent * wave.HostCount)
                {
                    foreach (var h in hosts)
                        Untouched(h.Name, $"not touched: the rollout of group {wave.Group} stopped after {failed} of {wave.HostCount} " +
                            "hosts failed");
                    continue;
                }
                var results = await Task.WhenAll(hosts.Select(h => ApplyAndRecordAsync(h, token)));
                failed += results.Count(ok => !ok);
            }
        });

        // site-wide checks (peers open, call tests) once every host is rolled out: reported, never rolled back. A targeted
        // run does not reach every host, so it cannot run them, and a run that changed nothing has nothing new to prove
        // (a call test places real calls on the site): either says so instead.
        var final = new ConcurrentBag<HostOutcome>();
        var skip = !session.Targets.Everything ? SiteChecksSkip.Targeted
            : !session.RestartOnly && !plan.HasChanges && outcomes.All(o => o.Changed == 0) ? SiteChecksSkip.NothingChanged
            : SiteChecksSkip.None;
        var skipped = skip == SiteChecksSkip.None ? 0
            : outcomes.Sum(o => session.Desired.GetValueOrDefault(o.Host)?.Health.Count(c => c.SiteWide) ?? 0);
        if (skipped > 0)
            deps.Log.Info(skip == SiteChecksSkip.Targeted ? $"{skipped} site-wide checks skipped: the run is targeted ({session.Targets.Describe()})"
                : $"{skipped} site-wide checks not run: nothing changed");
        await System.Threading.Tasks.Parallel.ForEachAsync(outcomes, Options(ct), async (o, token) =>
        {
            if (o.Error is not null || skip != SiteChecksSkip.None || !session.Transports.TryGetValue(o.Host, out var t))
            {
                final.Add(o);
                return;
            }
            var site = await CheckHealthAsync(session, o.Host, new HostRun(t, session.Reads[o.Host].Facts), token, siteWide: true);
            final.Add(o with { Health = o.Health.AddRange(site) });
        });
        return new ApplyReport(plan, [.. final.OrderBy(o => o.Host)]) { SiteChecksSkipped = skipped, SiteChecksSkippedBecause = skip };

        void Untouched(string host, string why)
        {
            outcomes.Add(new HostOutcome(host, 0, why, []));
            deps.Log.Progress(new HostProgress(host, RunPhase.Failed, why));
        }

        async Task<bool> ApplyAndRecordAsync(HostTarget host, CancellationToken token)
        {
            var steps = plan.Steps.Where(st => st.Host == host.Name).ToArray();
            HostApply outcome;
            using (Metrics.Time("apply"))
                outcome = await ApplyHostAsync(session, host.Name, steps, token);
            outcomes.Add(outcome.Outcome);
            // What was applied is recorded even when the run is being cancelled (a local write), shared with the hosts that
            // finish meanwhile; a host where nothing moved costs no state write (a no-op run writes nothing).
            await session.Journal.ChangeAsync(state =>
            {
                var merged = MergeHost(state, host, session.Reads[host.Name].Facts, steps, outcome.Records);
                return SameHost(state, merged, host.Name) ? null : merged;
            });
            var done = outcome.Outcome;
            deps.Log.Progress(done.Ok
                ? new HostProgress(host.Name, RunPhase.Done, $"{done.Changed} changed", done.Changed, done.Changed)
                : new HostProgress(host.Name, RunPhase.Failed, done.Error ?? "unhealthy", done.Changed, done.Changed));
            return done.Ok;
        }
    }

    private static bool SameHost(StackState a, StackState b, string host)
    {
        var ra = a.Resources.Where(r => r.Host == host).ToList();
        var rb = b.Resources.Where(r => r.Host == host).ToList();
        return a.Hosts.TryGetValue(host, out var ha) && b.Hosts.TryGetValue(host, out var hb) && ha.Lab == hb.Lab && ha.Facts.SameAs(hb.Facts)
            && ra.Count == rb.Count
            && ra.Zip(rb).All(p => p.First.Urn == p.Second.Urn && p.First.Outputs.SequenceEqual(p.Second.Outputs) && p.First.Identity.SequenceEqual(p.Second.Identity)
                && (p.First.Adopted is null) == (p.Second.Adopted is null));
    }

    /// <summary>The state with a host's records replaced by this run's. Records of resources the run had no step for (a
    /// run targeted at some resources, a restart) stay as they were, in place.</summary>
    private static StackState MergeHost(StackState state, HostTarget host, HostFacts facts, IReadOnlyList<PlanStep> steps,
        ImmutableArray<ResourceRecord> records)
    {
        var stepped = steps.Select(st => st.Urn).ToHashSet(StringComparer.Ordinal);
        var partial = state.Resources.Any(r => r.Host == host.Name && !stepped.Contains(r.Urn));
        var now = records.ToDictionary(r => r.Urn, StringComparer.Ordinal);
        var known = state.Resources.Select(r => r.Urn).ToHashSet(StringComparer.Ordinal);
        ImmutableArray<ResourceRecord> resources = partial
            ? [.. state.Resources
                .Where(r => r.Host != host.Name || !stepped.Contains(r.Urn) || now.ContainsKey(r.Urn))
                .Select(r => r.Host == host.Name && now.TryGetValue(r.Urn, out var mine) ? mine : r),
               .. records.Where(r => !known.Contains(r.Urn))]
            : [.. state.Resources.Where(r => r.Host != host.Name), .. records];
        return state with
        {
            Resources = resources,
            Hosts = state.Hosts.SetItem(host.Name, new HostRecord(host.Name, host.Lab is not null, facts)),
        };
    }
}
