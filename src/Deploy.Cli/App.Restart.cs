using Deploy.Cli.Output;
using Deploy.Core.Engine;
using Deploy.Site.Compile;
using Deploy.Transport;

namespace Deploy.Cli;

// --target/--limit (preview, up, refresh) and `./deploy restart`.
public sealed partial class App
{
    /// <summary>The hosts and resources named by <c>--target</c> (all when none); an unknown name is exit 2. A targeted run
    /// says on stderr what it leaves out.</summary>
    private RunTargets Targets(SiteProgram site, IReadOnlyCollection<string>? names)
    {
        var targets = TargetResolver.Resolve(site, names ?? []);
        if (!targets.Everything)
        {
            var left = site.Hosts.Count(h => !targets.Reaches(h.Name));
            stderr.WriteLine($"targeted run: {targets.Describe()} ({left} other host{(left == 1 ? "" : "s")} not contacted)");
        }
        return targets;
    }

    private void SiteChecksSkipped(ApplyReport report)
    {
        if (report.SiteChecksSkipped == 0) return;
        var why = report.SiteChecksSkippedBecause == SiteChecksSkip.NothingChanged
            ? "nothing changed (a call test places real calls)"
            : "a targeted run does not reach every host";
        stderr.WriteLine($"note: {report.SiteChecksSkipped} site-wide check{(report.SiteChecksSkipped == 1 ? " was" : "s were")} " +
            $"not run (call tests, peers across the cluster): {why}; ./deploy health and ./deploy test run them");
    }

    /// <summary>
    /// <c>./deploy restart --target … [--service NAME]</c>: restarts the targeted hosts' services (or only the one named) with
    /// no change of config, per group in <c>rollout_batch</c> batches, each host's health checks gating the next batch
    /// (a failed one stops its group, as in <c>up</c>). Confirmed like <c>up</c>; recorded in the stack's history.
    /// </summary>
    public async Task<int> RestartAsync(string stack, IReadOnlyCollection<string> target, string? service, bool yes, CancellationToken ct,
        bool json = false)
    {
        // before the site is loaded and any host contacted
        if (target.Count == 0)
            throw new UsageException("restart needs --target (a host, a group or role, or a service's URN): it names what to restart");
        if (!yes && json)
            throw new UsageException("restart --json needs --yes (the plan is not shown before the JSON, so there is nothing to confirm)");
        if (!yes && !Interactive)
            throw new UsageException(
                "restart needs --yes when not run from a terminal (or with --non-interactive): nothing was read or restarted");
        var site = await LoadSiteAsync(stack, ct);
        var targets = Targets(site, target);
        DeployEngine.RequireRestartable(site, await _state.LoadAsync(stack, ct), targets, service, ct); // before any lock or host
        await using var @lock = await _state.LockAsync(stack, "restart", ct);
        var state = await _state.LoadAsync(stack, ct);
        await using var history = new RunHistory(this, stack, "restart");
        using var output = RunDisplay(json);
        var logs = output.KeepLogs(ws.LogsDir, stack, "restart");
        using var lab = Lab(site, state, output);
        var engine = Engine(lab, new KnownHosts(ws.KnownHostsFile), output);
        await using var session = await engine.PlanRestartAsync(site, state, targets, service, ct);
        var plan = session.Plan!;
        output.Pause();
        if (!json) stdout.Write(Redact($"Restarting ({stack}):\n\n" + PlanPrinter.Text(plan, false)));
        if (!yes)
        {
            stdout.Write("Do you want to perform this restart? [y/N] ");
            if (Console.ReadLine()?.Trim().ToLowerInvariant() is not ("y" or "yes"))
            {
                stdout.WriteLine("cancelled");
                return ExitCodes.Failed;
            }
        }
        var report = await engine.ApplyAsync(session, ct);
        output.Pause();
        if (json) stdout.Write(Redact(VerbJson.Print(VerbJson.Restart(stack, report))));
        // with --json, stdout holds the JSON document alone: the per-host summary goes to stderr
        var text = json ? stderr : stdout;
        text.WriteLine();
        foreach (var h in report.Hosts)
        {
            var sick = h.Health.Where(x => !x.Result.Healthy).Select(x => $"{x.Check.Describe()}: {x.Result.Detail}").ToList();
            text.WriteLine(Redact($"{h.Host}: {(h.Ok ? "ok" : "FAILED")}, {h.Changed} restarted" +
                (h.Error is null ? "" : $": {h.Error}") +
                (h.Health.IsEmpty ? "" : sick.Count == 0 ? ", healthy" : ", unhealthy: " + string.Join("; ", sick))));
        }
        foreach (var p in report.Plan.Problems) text.WriteLine(Redact($"{p.Host}: FAILED: {p.Message}"));
        text.WriteLine(RunSummary.LogsAt(ws.ProjectDir, logs.Dir));
        SiteChecksSkipped(report);
        history.Done(report.Ok, new Dictionary<string, int> { ["restart"] = report.Hosts.Sum(h => h.Changed) },
            report.Hosts.Where(h => !h.Ok).Select(h => h.Host).Concat(report.Plan.Problems.Select(p => p.Host)));
        return report.Ok ? ExitCodes.Ok : ExitCodes.Failed;
    }
}
