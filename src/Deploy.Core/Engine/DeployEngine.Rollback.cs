using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Core.Resources;

namespace Deploy.Core.Engine;

public sealed partial class DeployEngine
{
    /// <summary>Puts back the files this run wrote (from their backups; new files removed), restarts the given services
    /// on them and checks the host again. Not abandoned half way because of Ctrl-C (a second signal still ends the
    /// process): the host would be left on the bad files.</summary>
    private async Task<(string Error, ImmutableArray<(HealthCheckSpec Check, HealthResult Result)> Health)> RollBackAsync(
        PlanSession s, string host, HostRun run, IRollback rollback, IReadOnlyList<PlanStep> restart, string why,
        ImmutableArray<(HealthCheckSpec Check, HealthResult Result)> health)
    {
        deps.Log.Warn(host, $"{why}: rolling back");
        var none = CancellationToken.None;
        try
        {
            await rollback.RollbackAsync(run, none);
            // a unit file put back is read again by systemd before the restart
            ImmutableArray<PropertyChange> changes = run.Facts.InitSystem == "systemd"
                ? [new PropertyChange("daemon-reload", null, "rollback"), new PropertyChange("restart", null, "rollback")]
                : [new PropertyChange("restart", null, "rollback")];
            foreach (var st in restart)
                await Provider(st.Type).ApplyAsync(st.Desired!, new ResourceDiff(StepOp.Update, changes), run, none);
            health = await CheckHealthAsync(s, host, run, none);
            return ($"{why}; rolled back to the previous files, " + (health.All(h => h.Result.Healthy) ? "healthy again" : "still unhealthy"), health);
        }
        catch (DeployException e) { return ($"{why}; the rollback failed: {e.Message}", health); }
    }
}
