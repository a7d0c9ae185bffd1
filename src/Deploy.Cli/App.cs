using System.Collections.Immutable;
using Deploy.Cli.Output;
using Deploy.Core.Engine;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Core.State;
using Deploy.Core.Transport;
using Deploy.Lab;
using Deploy.Resources.Health;
using Deploy.Resources;
using Deploy.Site;
using Deploy.Site.Compile;
using Deploy.Site.Model;
using Deploy.Transport;

namespace Deploy.Cli;

/// <summary>Exit codes of ./deploy.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Usage = 2;

    /// <summary>preview/refresh --expect-no-changes found changes or drift.</summary>
    public const int Changes = 3;
}

/// <summary>A command line that cannot be carried out as given (exit 2): a missing --yes without a terminal, a --stack
/// that names no stack, a malformed --path.</summary>
public sealed class UsageException(string message) : DeployException(message);

/// <summary>The verbs, wired to the engine. Each returns an exit code; user errors are DeployExceptions.</summary>
public sealed partial class App(Workspace ws, TextWriter stdout, TextWriter stderr, int parallelism, bool verbose)
{
    private readonly IStateBackend _state = StateBackends.Open(ws);
    private ImmutableArray<string> _secrets = [];
    private readonly RunMetrics _metrics = new();

    /// <summary>A person can answer a prompt: a terminal on stdin and no --non-interactive.</summary>
    public bool Interactive { get; init; }

    /// <summary>Terminals or not, NO_COLOR, CI: a live table and colour, or plain lines.</summary>
    public ConsoleMode Mode { get; init; } = ConsoleMode.Plain;

    /// <summary>What a verb shows while it reads and changes hosts (with --json, only on stderr).</summary>
    private RunOutput RunDisplay(bool json = false) => new(Mode, stdout, stderr, json, verbose, Redact);

    /// <summary>Previews in colour (a terminal on stdout, no NO_COLOR: <see cref="PlanPrinter.ColourWanted"/>).</summary>
    public bool Colour { get; init; }

    /// <summary>Secret settings' values never reach an output: any that would are replaced by [secret].</summary>
    public string Redact(string text) => _secrets.Aggregate(text, (t, v) => t.Replace(v, "[secret]", StringComparison.Ordinal));

    public async Task<SiteProgram> LoadSiteAsync(string stack, CancellationToken ct, bool offline = false)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var http = new HttpClient();
        var site = await SiteLoader.LoadAsync(ws.ProjectDir, stack, new HttpKeyFetcher(ws.KeyCacheDir, http, offline), EnsureLabKeyAsync, ct, ws.Passphrase, s => _secrets = s,
            metrics: _metrics, onInventory: offline ? null : inventory => PrefetchLab(stack, inventory, ct),
            keyCache: offline ? null : SshPersist.KeyCache());
        _secrets = site.Config.SecretValues;
        // likely mistakes (an unknown var, a placeholder setting) are said before anything else, and never fail the verb
        foreach (var warning in site.Warnings) stderr.WriteLine(Redact($"warning: {warning}"));
        if (verbose) stderr.WriteLine($"loaded the site in {clock.ElapsedMilliseconds} ms");
        return site;
    }

    /// <summary>What the run cost so far; -v prints it on stderr.</summary>
    private RunReport Cost(SiteProgram site)
    {
        var report = _metrics.Report(site.Hosts.Length);
        if (verbose) RunTimings.Print(stderr, report);
        return report;
    }

    /// <summary>Lab hosts are reached with a key pair this program makes once per project.</summary>
    private static async Task<string> EnsureLabKeyAsync(string keyPath, CancellationToken ct)
    {
        if (!File.Exists(keyPath))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(keyPath)!);
            var res = await new LocalCommand().RunAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "nf-deploy-lab", "-f", keyPath], ct);
            if (!res.Ok) throw new DeployException($"cannot make the lab key {keyPath}: {res.Stderr.Trim()}");
        }
        return (await File.ReadAllTextAsync(keyPath + ".pub", ct)).Trim();
    }

    private DeployEngine Engine(DockerLabProvider? lab, KnownHosts knownHosts, RunOutput log, bool diffNewContent = false)
    {
        IHostConnector connector = new SshHostConnector(knownHosts, new SshConnectOptions
        {
            OnAttempt = n => log.Info($"{n.Host}: connecting to {n.Endpoint}: attempt {n.Attempt} of {n.MaxAttempts}, " +
                $"waiting up to {n.Timeout.TotalSeconds:0.#} s for its SSH answer"),
            OnRetry = n => log.Host(n.Host, $"connect to {n.Endpoint} failed ({n.Error.Message}); retry {n.Attempt} in {n.Delay.TotalSeconds:0.0}s"),
            OnResume = n => log.Warn(n.Host, $"{n.Error.Message}; reconnecting to run the step again (attempt {n.Attempt}) in {n.Delay.TotalSeconds:0.0}s"),
        });
        connector = SshPersist.Wrap(connector, knownHosts.Path, message => stderr.WriteLine("warning: " + message));
        if (log.Logs is { } logs) connector = logs.Watch(connector);
        return new DeployEngine(new EngineDeps(connector, Prefetched(lab), knownHosts, ResourceProviders.All(), new HealthChecker(), _state, log,
            new EngineOptions { Parallelism = parallelism, DiffNewContent = diffNewContent, Metrics = _metrics }));
    }

    public async Task<int> PreviewAsync(string stack, bool json, bool expectNoChanges, bool showSames, CancellationToken ct,
        IReadOnlyCollection<string>? replace = null, IReadOnlyCollection<string>? target = null, bool diff = false)
    {
        var site = await LoadSiteAsync(stack, ct);
        site.Replace(replace ?? []);
        var targets = Targets(site, target);
        var state = await _state.LoadAsync(stack, ct);
        using var output = RunDisplay(json);
        using var lab = Lab(site, state, output);
        var engine = Engine(lab, new KnownHosts(ws.KnownHostsFile), output, diff);
        await using var session = await engine.PlanAsync(site, state, targets, ct);
        var plan = session.Plan!;
        output.Pause();
        var cost = Cost(site);
        if (json) stdout.Write(Redact(RunTimings.With(PlanPrinter.Json(plan), cost) + "\n"));
        else WritePlan($"Previewing update ({stack}):", plan, showSames);
        if (!plan.Problems.IsEmpty) return ExitCodes.Failed;
        if (expectNoChanges && plan.HasChanges)
        {
            stderr.WriteLine("error: no changes were expected but changes were proposed:");
            foreach (var s in PlanPrinter.Entries(plan).Where(e => e.Op != StepOp.Same || e.Adopt))
                stderr.WriteLine($"    {s.Host}: {(s.Adopt ? "adopt " : "")}{PlanPrinter.Op(s.Op)} {s.Type} {s.Name}");
            return ExitCodes.Changes;
        }
        return ExitCodes.Ok;
    }

    public async Task<int> UpAsync(string stack, bool yes, bool json, CancellationToken ct,
        IReadOnlyCollection<string>? replace = null, IReadOnlyCollection<string>? target = null, bool diff = false)
    {
        // before the site is loaded and any host contacted: a run that could not be confirmed stops here
        if (!yes && json) throw new UsageException("up --json needs --yes (the plan is not shown before the JSON, so there is nothing to confirm)");
        if (!yes && !Interactive) throw new UsageException("up needs --yes when not run from a terminal (or with --non-interactive): nothing was read or changed");
        var site = await LoadSiteAsync(stack, ct);
        site.Replace(replace ?? []);
        var targets = Targets(site, target);
        await using var @lock = await _state.LockAsync(stack, "up", ct);
        var state = await _state.LoadAsync(stack, ct);
        await using var history = new RunHistory(this, stack, "update");
        using var output = RunDisplay(json);
        var logs = output.KeepLogs(ws.LogsDir, stack, "up");
        using var lab = Lab(site, state, output);
        var engine = Engine(lab, new KnownHosts(ws.KnownHostsFile), output, diff);
        await using var session = await engine.PlanAsync(site, state, targets, ct);
        var plan = session.Plan!;
        output.Pause();
        if (!json) WritePlan($"Updating ({stack}):", plan, showSames: false);
        if (!yes)
        {
            stdout.Write("Do you want to perform this update? [y/N] ");
            if (Console.ReadLine()?.Trim().ToLowerInvariant() is not ("y" or "yes")) { stdout.WriteLine("cancelled"); return ExitCodes.Failed; }
        }
        // the site CA and the deployer's own certificate (its health probes' TLS identity), when new or re-issued
        await site.CommitControllerAsync(ct);
        var report = await engine.ApplyAsync(session, ct);
        output.Pause();
        var cost = Cost(site);
        if (json)
            stdout.Write(Redact(RunTimings.With(CallReport.WithHealth(PlanPrinter.Json(report.Plan), report.Hosts.SelectMany(h => h.Health)), cost) + "\n"));
        // with --json, stdout holds the JSON document alone: the per-host summary goes to stderr
        var text = json ? stderr : stdout;
        text.WriteLine();
        RunSummary.Write(text, json ? Mode.StderrTerminal : Mode.StdoutTerminal, Mode, report, Redact);
        text.WriteLine(RunSummary.LogsAt(ws.ProjectDir, logs.Dir));
        if (!json) stdout.Write(Redact(CallReport.Text(report.Hosts.SelectMany(h => h.Health))));
        SiteChecksSkipped(report);
        history.Done(report.Ok, RunHistory.Counts(report.Plan), report.Hosts.Where(h => !h.Ok).Select(h => h.Host).Concat(report.Plan.Problems.Select(p => p.Host)));
        return report.Ok ? ExitCodes.Ok : ExitCodes.Failed;
    }

    /// <summary><c>./deploy test</c>: the site's call tests against the live hosts, without a rollout (exit 0 all passed, 1 not).</summary>
    public async Task<int> TestAsync(string stack, bool json, CancellationToken ct)
    {
        var site = await LoadSiteAsync(stack, ct);
        var state = await _state.LoadAsync(stack, ct);
        using var output = RunDisplay(json);
        using var lab = Lab(site, state, output);
        var engine = Engine(lab, new KnownHosts(ws.KnownHostsFile), output);
        await using var session = await engine.PlanAsync(site, state, ct);
        var tests = await engine.CallTestsAsync(session, ct);
        output.Pause();
        if (json) stdout.Write(Redact(CallReport.Document(stack, tests) + "\n"));
        else if (tests.IsEmpty) stdout.WriteLine($"stack {stack} declares no call tests (health: - call: {{...}}, scope: site)");
        else stdout.Write(Redact($"Testing calls ({stack}):\n" + CallReport.Text(tests)));
        return !tests.IsEmpty && tests.All(t => t.Result.Healthy) ? ExitCodes.Ok : ExitCodes.Failed;
    }

    public async Task<int> RefreshAsync(string stack, bool expectNoChanges, CancellationToken ct,
        IReadOnlyCollection<string>? target = null, bool json = false)
    {
        // read-only, like preview: the hosts are compared with the state, nothing is written (no lock is needed)
        var site = await LoadSiteAsync(stack, ct);
        var targets = Targets(site, target);
        var state = await _state.LoadAsync(stack, ct);
        await using var history = new RunHistory(this, stack, "refresh");
        using var output = RunDisplay(json);
        using var lab = Lab(site, state, output);
        var engine = Engine(lab, new KnownHosts(ws.KnownHostsFile), output);
        var report = await engine.RefreshAsync(site, state, targets, save: false, ct);
        output.Pause();
        history.Done(report.Problems.IsEmpty, new Dictionary<string, int> { ["drift"] = report.Drifts.Length }, report.Problems.Select(p => p.Host));
        if (json) stdout.Write(Redact(VerbJson.Print(VerbJson.Refresh(stack, report))));
        else WriteRefresh(stack, report);
        if (!report.Problems.IsEmpty) return ExitCodes.Failed;
        return expectNoChanges && !report.Drifts.IsEmpty ? ExitCodes.Changes : ExitCodes.Ok;
    }

    private void WriteRefresh(string stack, RefreshReport report)
    {
        stdout.WriteLine($"Refreshing ({stack}):");
        if (report.Drifts.IsEmpty) stdout.WriteLine("    no drift: the hosts match the last applied state");
        foreach (var d in report.Drifts)
            stdout.WriteLine(Redact($"    drift {d.Host}: {d.Name}: " + string.Join("; ", d.Changes.Select(c => $"{c.Name} {c.Before ?? "∅"} → {c.After ?? "∅"}"))));
        foreach (var p in report.Problems) stdout.WriteLine($"    {p.Host}: error: {p.Message}");
    }

    public async Task<int> DestroyAsync(string stack, bool yes, CancellationToken ct, bool json = false)
    {
        if (!yes) throw new UsageException("destroy deletes every resource of the stack: confirm with --yes");
        var site = await LoadSiteAsync(stack, ct);
        await using var @lock = await _state.LockAsync(stack, "destroy", ct);
        var state = await _state.LoadAsync(stack, ct);
        await using var history = new RunHistory(this, stack, "destroy");
        using var output = RunDisplay(json);
        var logs = output.KeepLogs(ws.LogsDir, stack, "destroy");
        using var lab = Lab(site, state, output);
        var engine = Engine(lab, new KnownHosts(ws.KnownHostsFile), output);
        var problems = await engine.DestroyAsync(site, state, ct);
        output.Pause();
        history.Done(problems.IsEmpty, new Dictionary<string, int> { ["delete"] = problems.IsEmpty ? state.Resources.Length : 0 }, problems.Select(p => p.Host));
        if (json) stdout.Write(Redact(VerbJson.Print(VerbJson.Destroy(stack, state, problems))));
        var text = json ? stderr : stdout;
        foreach (var p in problems) text.WriteLine($"{p.Host}: error: {p.Message}");
        text.WriteLine(problems.IsEmpty ? $"The resources in stack {stack} have been deleted." : "Some hosts could not be cleaned; the state keeps them.");
        text.WriteLine(RunSummary.LogsAt(ws.ProjectDir, logs.Dir));
        return problems.IsEmpty ? ExitCodes.Ok : ExitCodes.Failed;
    }

    /// <summary>Renders every host's files offline: facts come from the inventory, lab defaults or the last run.</summary>
    public async Task<int> RenderAsync(string stack, string outDir, CancellationToken ct, bool json = false)
    {
        var outFull = Path.GetFullPath(outDir);
        if (File.Exists(outFull)) throw new DeployException($"--out {outDir} is a file: render writes into a folder (<out>/<host>/<path on the host>)");
        var site = await LoadSiteAsync(stack, ct, offline: true);
        var state = await _state.LoadAsync(stack, ct);
        var facts = site.Hosts.ToDictionary(h => h.Name, h => h.FactsOrAssumed(state.Hosts.GetValueOrDefault(h.Name)?.Facts));
        RenderFacts.Tell(site, state, facts, stderr);
        var desired = site.Materialize(facts, ct);
        var files = new System.Text.Json.Nodes.JsonArray();
        foreach (var host in desired)
            foreach (var f in host.Resources.OfType<FileSpec>())
            {
                // every file lands under <out>/<host>/, links and '..' resolved
                var target = Deploy.Core.Paths.ContainedPath.Resolve(Path.Combine(outFull, host.Host), f.Path.TrimStart('/'))
                    ?? throw new DeployException($"host {host.Host}: file {f.Path} would be written outside {Path.Combine(outDir, host.Host)}/: refused");
                if (Directory.Exists(target)) throw new DeployException($"host {host.Host}: file {f.Path}: {target} is a folder");
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                await RenderedFile.WriteAsync(target, f, ct);
                files.Add(new System.Text.Json.Nodes.JsonObject { ["host"] = host.Host, ["path"] = f.Path, ["out"] = target });
            }
        var text = json ? stderr : stdout;
        if (json) stdout.Write(VerbJson.Print(new System.Text.Json.Nodes.JsonObject { ["stack"] = stack, ["out"] = outFull, ["files"] = files }));
        text.WriteLine($"rendered {files.Count} files for {desired.Length} hosts into {outDir}");
        // nothing of the project is written: certificates that `up` would (re-)issue were issued in memory for this render
        var ephemeral = desired.SelectMany(h => h.Resources.OfType<CertificateSpec>()).Where(c => c.Issue is not null).Select(c => c.Host).ToList();
        if (ephemeral.Count > 0)
            text.WriteLine($"note: the certificates and keys of {string.Join(", ", ephemeral)} are EPHEMERAL placeholders issued in memory for this render " +
                "(the site CA's are kept in .nf-deploy/pki only by `up`, which issues its own)");
        return ExitCodes.Ok;
    }

    /// <summary>A plan for people: its title, then the plan's lines (in colour on a terminal), secrets redacted.</summary>
    private void WritePlan(string title, Plan plan, bool showSames)
    {
        stdout.Write(Redact(title) + "\n\n");
        PlanPrinter.Write(stdout, PlanPrinter.Lines(plan, showSames, Redact), Colour, Redact);
    }

    internal static ImmutableArray<string> Verbs => ["preview", "up", "refresh", "restart", "destroy", "render", "config", "stack", "cancel", "health", "test", "whoami"];
}
