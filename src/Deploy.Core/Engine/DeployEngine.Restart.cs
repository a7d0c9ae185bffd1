using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Core.State;

namespace Deploy.Core.Engine;

// Restart: the targeted hosts' managed services (or the one named) restarted with no change of config, through the same
// rollout as up (batches per group, health gates that stop the next batch) and recorded like it.
public sealed partial class DeployEngine
{
    /// <summary>Why a restart step restarts (previews and logs show it).</summary>
    public const string RestartRequested = "requested (./deploy restart)";

    /// <summary>
    /// Reads the targeted hosts and plans a restart of their services that must run: every one on a whole host, those named
    /// by URN (or notified by a resource named by URN) on a host reached by URN; with <paramref name="service"/>, only
    /// that one. A service the site does not have there is a usage error, refused before any host is contacted when the
    /// site renders without them. Apply the session with <see cref="ApplyAsync"/>.
    /// </summary>
    public async Task<PlanSession> PlanRestartAsync(ISiteProgram site, StackState state, RunTargets targets, string? service,
        CancellationToken ct)
    {
        RequireRestartable(site, state, targets, service, ct);
        var session = await PlanAsync(site, state, targets, ct);
        try
        {
            RequireService(session.Desired.Values, targets, service);
            var steps = new List<PlanStep>();
            foreach (var host in site.Hosts.Where(h => session.Reads.ContainsKey(h.Name) && !session.Problems.ContainsKey(h.Name)))
                foreach (var spec in Restartable(site.Stack, session.Desired[host.Name], targets, service))
                {
                    if (session.Live.GetValueOrDefault(spec.Key) is null)
                    {
                        deps.Log.Host(host.Name, $"{spec.Type} {spec.Name} is not on the host yet (up installs it): not restarted");
                        continue;
                    }
                    steps.Add(new PlanStep(host.Name, spec.Urn(site.Stack), spec.Type, spec.Name, StepOp.Update, [], spec, spec.Identity)
                    {
                        Triggers = [new StepTrigger(TriggerKind.Restart, RestartRequested)],
                    });
                }
            var missing = session.Missing.Where(targets.Reaches).Select(h => new HostProblem(h, "the lab host does not exist (run up)"));
            session.Plan = session.Plan! with
            {
                Steps = [.. steps],
                Lab = [],
                Problems = [.. session.Plan.Problems.Concat(missing).OrderBy(p => p.Host, StringComparer.Ordinal)],
            };
            session.RestartOnly = true;
            return session;
        }
        catch
        {
            await session.DisposeAsync();
            throw;
        }
    }

    /// <summary>Refuses a <c>--service</c> that no targeted host runs (<see cref="UnknownTargetException"/>, exit 2) without
    /// contacting any host: the site rendered with the facts known already. A site that needs live facts to render is
    /// checked once the hosts are read, by <see cref="PlanRestartAsync"/>.</summary>
    public static void RequireRestartable(ISiteProgram site, StackState state, RunTargets targets, string? service, CancellationToken ct)
    {
        if (service is null) return;
        var known = site.Hosts.ToDictionary(h => h.Name, h => h.FactsOrAssumed(state.Hosts.GetValueOrDefault(h.Name)?.Facts));
        ImmutableArray<HostDesired> rendered;
        try { rendered = site.Materialize(known, ct); }
        catch (SiteErrors) { return; }
        RequireService(rendered, targets, service);
    }

    /// <summary>The services of a host that a restart of <paramref name="targets"/> restarts, in apply order.</summary>
    private static IEnumerable<ResourceSpec> Restartable(string stack, HostDesired desired, RunTargets targets, string? service)
    {
        var named = desired.Resources.Where(r => targets.Urns.Contains(r.Urn(stack))).ToList();
        var notified = named.OfType<INotifying>().SelectMany(n => n.Notify).ToHashSet(StringComparer.Ordinal);
        return desired.Resources.Where(r => r is IRestartable { MustRun: true }
            && (service is null || r.Name == service)
            && (targets.Whole(desired.Host) || named.Contains(r) || notified.Contains(r.Name)));
    }

    /// <summary>Refuses a <c>--service</c> that no targeted host runs (exit 2), with the closest service name.</summary>
    private static void RequireService(IEnumerable<HostDesired> desired, RunTargets targets, string? service)
    {
        if (service is null) return;
        var services = desired.Where(d => targets.Reaches(d.Host))
            .SelectMany(d => d.Resources.Where(r => r is IRestartable { MustRun: true }).Select(r => r.Name)).ToList();
        if (!services.Contains(service))
            throw new UnknownTargetException(
                $"--service {service}: no service of that name on {targets.Describe()}" + TargetResolver.Suggest(service, services));
    }
}
