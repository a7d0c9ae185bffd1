using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Core.Resources;

namespace Deploy.Core.Engine;

/// <summary>
/// Who makes whom restart, on one host (Ansible's handlers, planned ahead and shown): a restartable resource (a service)
/// restarts when a resource that notifies it changes, or when a restart was left pending by a run that died between the
/// change and the restart; it starts when the resource that brings it (its package) is newly installed. When a change
/// defines it again (a systemd unit file), the init system reloads its definitions first. One that must not run is kept
/// down after the install that brought and started it.
/// </summary>
public static class TriggerPlanner
{
    public static IEnumerable<PlanStep> Propagate(IReadOnlyList<PlanStep> hostSteps, HostFacts facts, IReadOnlySet<string>? pending = null)
    {
        var byName = hostSteps.Where(s => s.Desired is not null).ToDictionary(s => (s.Type, s.Name));
        var changing = hostSteps.Where(s => s.Desired is not null && s.Op is StepOp.Create or StepOp.Update or StepOp.Replace).ToList();
        foreach (var step in hostSteps)
        {
            if (step.Desired is not IRestartable restartable || step.Op == StepOp.Delete) { yield return step; continue; }
            var changes = step.Changes.ToList();
            var triggers = new List<StepTrigger>();
            var definitions = step.Op == StepOp.Create ? [] : changing.Where(o => restartable.DefinedBy(o.Desired!, facts)).ToList();
            if (definitions.Count > 0)
                triggers.Add(new StepTrigger(TriggerKind.ReloadDefinitions, Changed(definitions)));
            var bringer = restartable.BroughtBy is { } by ? byName.GetValueOrDefault(by) : null;
            var freshInstall = bringer is { Op: StepOp.Create };
            if (!restartable.MustRun)
            {
                if (freshInstall) changes.AddRange(restartable.KeepDownAfterInstall(changes));
            }
            else
            {
                var notifiers = changing.Where(o => o.Desired is INotifying n && n.Notify.Contains(step.Name)).ToList();
                if (notifiers.Count > 0 && step.Op != StepOp.Create)
                    triggers.Add(new StepTrigger(TriggerKind.Restart, Changed(notifiers)));
                else if (pending?.Contains(step.Name) == true && step.Op != StepOp.Create)
                    triggers.Add(new StepTrigger(TriggerKind.Restart, "left pending by an interrupted run"));
                if (freshInstall && !triggers.Any(t => t.Starts))
                    triggers.Add(new StepTrigger(TriggerKind.Start, $"package {bringer!.Name} newly installed"));
            }
            var op = step.Op == StepOp.Same && (changes.Count > 0 || triggers.Count > 0) ? StepOp.Update : step.Op;
            yield return step with { Op = op, Changes = [.. changes], Triggers = [.. triggers] };
        }
    }

    private static string Changed(IEnumerable<PlanStep> steps) => string.Join(", ", steps.Select(s => s.Desired!.DisplayName)) + " changed";
}
