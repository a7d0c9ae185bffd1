using System.Collections.Immutable;
using Deploy.Core.Engine;
using Deploy.Core.Lab;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Core.State;
using Deploy.Core.Transport;
using Deploy.Resources.Health;
using Deploy.Resources;

namespace Deploy.Tests;

/// <summary>
/// A site of SIP proxies in one inventory group: on each host a kamailio.cfg that notifies the kamailio service, the
/// service, and a <c>command</c> health check (answered by the fake host). The rollout policy is what the compiler
/// makes of the group's <c>rollout_batch</c> and <c>rollout_max_fail</c> vars (SiteProgram).
/// </summary>
public sealed record ProxySite(string Stack, ImmutableArray<HostTarget> Hosts, ImmutableDictionary<string, string> Config) : ISiteProgram
{
    public const string ConfigPath = "/etc/kamailio/kamailio.cfg";
    public const string ServiceName = "kamailio";

    public LabSpec? Lab => null;

    public static ProxySite Of(IEnumerable<FakeHost> hosts, string config, string batch = "1", int maxFailPercent = 0)
    {
        var targets = hosts.Select(h => new HostTarget(h.Name,
            new HostConnection(h.Name, new SshEndpoint(h.Address, 22, "root", "/dev/null")), null, HostFacts.Assumed(h.Name, h.Address))
        { Rollout = new RolloutPolicy("sip", batch, maxFailPercent) }).ToImmutableArray();
        return new ProxySite("engine-specs", targets, targets.ToImmutableDictionary(t => t.Name, _ => config));
    }

    /// <summary>The same site with a new config on every host.</summary>
    public ProxySite WithConfig(string config) => this with { Config = Config.ToImmutableDictionary(c => c.Key, _ => config) };

    public ImmutableArray<HostDesired> Materialize(IReadOnlyDictionary<string, HostFacts> facts, CancellationToken ct) =>
        [.. Hosts.Select(h => new HostDesired(h.Name,
            [
                new FileSpec(ConfigPath, Config[h.Name], "root", "root", "0644") { Host = h.Name, Name = ConfigPath, DeclaredBy = "kamailio", Notify = [ServiceName] },
                new ServiceSpec(ServiceName) { Host = h.Name, Name = ServiceName, DeclaredBy = "kamailio" },
            ],
            [new HealthCheckSpec(h.Name, "kamailio", "command", ImmutableSortedDictionary<string, string>.Empty.Add("command", $"{FakeHost.HealthCommand} {ServiceName}"))]))];
}

/// <summary>What one run did: the engine's report (null when the run ended by cancellation), the state on disk
/// after it, and the scripts each host was sent during it.</summary>
public sealed record EngineRun(ApplyReport? Report, OperationCanceledException? Cancelled, StackState State,
    ImmutableDictionary<string, ImmutableArray<SentScript>> Sent)
{
    public HostOutcome Outcome(string host) => Report!.Hosts.Single(o => o.Host == host);

    public IEnumerable<SentScript> Changes(string host) =>
        Sent[host].Where(s => s.Kind is ScriptKind.Write or ScriptKind.Service or ScriptKind.Rollback);

    public int Restarts(string host) => Sent[host].Count(s => s.Kind == ScriptKind.Service && s.Action is "restart" or "start");
}

/// <summary>
/// The real engine (real providers, real health checker, real file state store in a temp folder) wired to fake hosts
/// through <see cref="IHostConnector"/>, as App wires it to SSH. Each run plans and applies like <c>./deploy up</c>.
/// </summary>
public sealed class EngineRig : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "nfd-engine-" + Guid.NewGuid().ToString("N")[..8]);

    public EngineRig(params FakeHost[] hosts)
    {
        Hosts = [.. hosts];
        Store = new FileStateStore(_dir);
    }

    public ImmutableArray<FakeHost> Hosts { get; }

    public FileStateStore Store { get; }

    public FakeHost this[string name] => Hosts.Single(h => h.Name == name);

    /// <summary>Where the engine's messages go (none by default).</summary>
    public IRunLog Log { get; set; } = new NullRunLog();

    /// <summary>What the next runs cost (phases, connections, round trips); replace it to measure one run alone.</summary>
    public RunMetrics Metrics { get; set; } = new();

    /// <summary>What the engine connects through, given the fake hosts' connector (the connector itself by default).</summary>
    public Func<IHostConnector, IHostConnector> Through { get; init; } = direct => direct;

    private DeployEngine Engine(bool diffNewContent = false) => new(new EngineDeps(Through(new FakeConnector(Hosts)), null, null,
        ResourceProviders.All(), new HealthChecker(), Store, Log,
        new EngineOptions { Parallelism = 4, HealthTimeout = TimeSpan.Zero, DiffNewContent = diffNewContent, Metrics = Metrics }));

    /// <summary>Plan and apply, as <c>./deploy up</c> does (App.UpAsync): the state loaded under the stack's lock.</summary>
    public Task<EngineRun> UpAsync(ISiteProgram site, CancellationToken ct) => UpAsync(site, RunTargets.All, ct);

    /// <summary>Plan and apply for the targeted hosts and resources only (<c>./deploy up --target …</c>).</summary>
    public Task<EngineRun> UpAsync(ISiteProgram site, RunTargets targets, CancellationToken ct) =>
        RunAsync(site, (engine, state) => engine.PlanAsync(site, state, targets, ct), ct);

    /// <summary>Plan and apply a restart, as <c>./deploy restart --target … [--service NAME] --yes</c> does.</summary>
    public Task<EngineRun> RestartAsync(ISiteProgram site, RunTargets targets, string? service, CancellationToken ct) =>
        RunAsync(site, (engine, state) => engine.PlanRestartAsync(site, state, targets, service, ct), ct);

    private async Task<EngineRun> RunAsync(ISiteProgram site, Func<DeployEngine, StackState, Task<PlanSession>> plan, CancellationToken ct)
    {
        var before = Marks();
        ApplyReport? report = null;
        OperationCanceledException? cancelled = null;
        try
        {
            await using var @lock = await Store.LockAsync(site.Stack, "up", ct);
            var engine = Engine();
            await using var session = await plan(engine, await Store.LoadAsync(site.Stack, ct));
            report = await engine.ApplyAsync(session, ct);
        }
        catch (OperationCanceledException e) when (ct.IsCancellationRequested) { cancelled = e; }
        var state = await Store.LoadAsync(site.Stack, CancellationToken.None);
        return new EngineRun(report, cancelled, state, SentSince(before));
    }

    /// <summary>Plan only, as <c>./deploy preview</c> does: the plan and the scripts it sent.</summary>
    public async Task<(Plan Plan, ImmutableDictionary<string, ImmutableArray<SentScript>> Sent)> PreviewAsync(ISiteProgram site,
        CancellationToken ct, RunTargets? targets = null, bool diffNewContent = false)
    {
        var before = Marks();
        await using var session = await Engine(diffNewContent).PlanAsync(site, await Store.LoadAsync(site.Stack, ct), targets ?? RunTargets.All, ct);
        return (session.Plan!, SentSince(before));
    }

    /// <summary>Health checks only, as <c>./deploy health [--target …]</c> does: the report and the scripts it sent.</summary>
    public async Task<(HealthReport Report, ImmutableDictionary<string, ImmutableArray<SentScript>> Sent)> HealthAsync(ISiteProgram site,
        RunTargets targets, CancellationToken ct)
    {
        var before = Marks();
        var report = await Engine().HealthAsync(site, await Store.LoadAsync(site.Stack, ct), targets, ct);
        return (report, SentSince(before));
    }

    /// <summary>Destroy, as <c>./deploy destroy</c> does: the state's resources deleted (or, adopted, handed back).</summary>
    public async Task<(ImmutableArray<HostProblem> Problems, ImmutableDictionary<string, ImmutableArray<SentScript>> Sent)> DestroyAsync(
        ISiteProgram site, CancellationToken ct)
    {
        var before = Marks();
        await using var @lock = await Store.LockAsync(site.Stack, "destroy", ct);
        var problems = await Engine().DestroyAsync(site, await Store.LoadAsync(site.Stack, ct), ct);
        return (problems, SentSince(before));
    }

    private Dictionary<string, int> Marks() => Hosts.ToDictionary(h => h.Name, h => h.Sent.Length);

    private ImmutableDictionary<string, ImmutableArray<SentScript>> SentSince(Dictionary<string, int> marks) =>
        Hosts.ToImmutableDictionary(h => h.Name, h => h.Sent.Skip(marks[h.Name]).ToImmutableArray());

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (DirectoryNotFoundException) { }
    }
}
