using System.Collections.Immutable;
using Deploy.Core.Lab;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Core.State;
using Deploy.Core.Transport;

namespace Deploy.Core.Engine;

// DeployEngine is split by job (partial class):
//   DeployEngine.cs                the options and deps, the class, and the entry points of preview and up
//   DeployEngine.Plan.cs           reading the hosts, planning (diffs, content diffs), the plan session
//   TriggerPlanner.cs              who restarts whom: restarts, first starts, definitions reloaded (first-class step triggers)
//   DeployEngine.Rollout.cs        up: the lab phase (Lab/LabPhase.cs) first, then waves and batches, max-fail, recording each host
//   DeployEngine.HostApply.cs      one host's steps in order, its health checks and health-gated rollback
//   DeployEngine.Journal.cs        pending restarts written to the state during a run
//   DeployEngine.FileSets.cs       resources that change together (IApplyTogether), applied as one
//   DeployEngine.Rollback.cs       putting a host back on its previous files
//   DeployEngine.Health.cs         health: the checks of the site as it is now
//   DeployEngine.CallTests.cs      test: the call tests of the site
//   DeployEngine.RefreshDestroy.cs refresh (drift) and destroy
//   DeployEngine.Restart.cs        restart: the targeted services restarted through the rollout's batches and health gates
//   Targets.cs                     --target: which hosts and resources a run acts on

public sealed record EngineOptions
{
    /// <summary>Hosts read and applied at once.</summary>
    public int Parallelism { get; init; } = 16;

    /// <summary>How long a health check may take to pass after a rollout.</summary>
    public TimeSpan HealthTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Plans carry the content of new files as a diff from empty (preview --diff), not only changed files'.</summary>
    public bool DiffNewContent { get; init; }

    /// <summary>Where the run's time goes (phases, SSH connections and round trips), for -v and --json.</summary>
    public RunMetrics Metrics { get; init; } = new();
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
    private readonly LabPhase lab = new(deps.Lab, deps.HostKeys, deps.Log);
    private readonly IHostConnector connector = deps.Options.Metrics.Counting(deps.Connector);

    private RunMetrics Metrics => deps.Options.Metrics;

    private IResourceProvider Provider(string type) =>
        deps.Providers.TryGetValue(type, out var p) ? p : throw new DeployException($"no provider for resource type {type}");

    // ---------------------------------------------------------------- preview

    /// <summary>Reads the hosts and plans. The returned session keeps the connections open for <see cref="ApplyAsync"/>.</summary>
    public Task<PlanSession> PlanAsync(ISiteProgram site, StackState state, CancellationToken ct) =>
        PlanAsync(site, state, RunTargets.All, ct);

    /// <summary>Plans for the targeted hosts and resources only: the other hosts are not contacted (<c>--target</c>).</summary>
    public async Task<PlanSession> PlanAsync(ISiteProgram site, StackState state, RunTargets targets, CancellationToken ct)
    {
        var session = new PlanSession(site, state, deps.State, Metrics) { Targets = targets };
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            await ReadHostsAsync(session, ct);
            deps.Log.Info($"read {session.Reads.Count} hosts in {clock.ElapsedMilliseconds} ms");
            using (Metrics.Time("plan"))
            {
                session.Plan = BuildPlan(session);
                await AttachContentDiffsAsync(session, ct);
            }
            deps.Log.Info($"planned in {clock.ElapsedMilliseconds} ms");
            return session;
        }
        catch
        {
            await session.DisposeAsync();
            throw;
        }
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

    private ParallelOptions Options(CancellationToken ct) =>
        new() { MaxDegreeOfParallelism = Math.Max(1, deps.Options.Parallelism), CancellationToken = ct };
}
