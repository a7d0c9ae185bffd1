using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Core.Resources;

namespace Deploy.Core.Engine;

public sealed partial class DeployEngine
{
    /// <summary>The providers that can put back what a run wrote, each once (one provider may serve several types).</summary>
    private ImmutableArray<IRollback> Rollbacks =>
        [.. deps.Providers.Values.OfType<IRollback>().DistinctBy(p => p.GetType())];

    /// <summary>Puts back the files this run wrote (from their backups; new files removed), restarts the given services
    /// on them and checks the host again. Not abandoned half way because of Ctrl-C (a second signal still ends the
    /// process): the host would be left on the bad files.</summary>
    private async Task<(string Error, ImmutableArray<(HealthCheckSpec Check, HealthResult Result)> Health)> RollBackAsync(
        PlanSession s, string host, HostRun run, IReadOnlyList<PlanStep> restart, string why,
        ImmutableArray<(HealthCheckSpec Check, HealthResult Result)> health)
    {
        deps.Log.Warn(host, $"{why}: rolling back");
        var none = CancellationToken.None;
        try
        {
            foreach (var rollback in Rollbacks) await rollback.RollbackAsync(run, none);
            // a definition put back (a unit file) is read again before the restart (where the init system has them)
            var again = new ResourceDiff(StepOp.Update, [])
            {
                Triggers = [new StepTrigger(TriggerKind.ReloadDefinitions, "rollback"), new StepTrigger(TriggerKind.Restart, "rollback")],
            };
            foreach (var st in restart) await Provider(st.Type).ApplyAsync(st.Desired!, again, run, none);
            health = await CheckHealthAsync(s, host, run, none);
            return ($"{why}; rolled back to the previous files, " + (health.All(h => h.Result.Healthy) ? "healthy again" : "still unhealthy"), health);
        }
        catch (DeployException e) { return ($"{why}; the rollback failed: {e.Message}", health); }
    }
}
