using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Core.State;

namespace Deploy.Core.Engine;

// The state journal during a run: restarts that became due (or were made) are written to the state at once.
public sealed partial class DeployEngine
{
    /// <summary>Records restarts that became due (before the file that causes them changes) or were made. Not
    /// cancellable: once a step started, what it means for the next run must reach the state file.</summary>
    private async Task UpdatePendingAsync(PlanSession s, IReadOnlyList<PendingRestart> add, IReadOnlyList<PendingRestart> remove)
    {
        try
        {
            await s.Journal.ChangeAsync(state =>
            {
                var pending = state.PendingRestarts.Except(remove).Union(add).ToImmutableArray();
                return pending.SequenceEqual(state.PendingRestarts) ? null : state with { PendingRestarts = pending };
            });
        }
        catch (Exception e) when (e is DeployException or IOException or UnauthorizedAccessException && e is not StateWriteException)
        {
            // not this host's fault: the run stops (see the catch in ApplyHostAsync), nothing is rolled back for it
            throw new StateWriteException(e is DeployException ? e.Message : $"the state of stack {s.Site.Stack} could not be written; the run stops: {e.Message}", e);
        }
    }
}
