using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Core.State;

namespace Deploy.Core.Engine;

public sealed partial class DeployEngine
{
    /// <summary>Resources of the host that change together, by the providers that apply sets (<see cref="IApplyTogether"/>):
    /// each member's URN with its whole set.</summary>
    private ImmutableDictionary<string, ImmutableArray<PlanStep>> SetsOf(IReadOnlyList<PlanStep> steps) =>
        deps.Providers.Values.OfType<IApplyTogether>()
            .SelectMany(provider => provider.SetsOf(steps))
            .ToImmutableDictionary(member => member.Key, member => member.Value, StringComparer.Ordinal);

    /// <summary>Applies a set of resources that change together: the restarts they cause are recorded first (no lost
    /// restarts), then the provider writes, validates and swaps them as one.</summary>
    private async Task<IEnumerable<ResourceRecord>> ApplySetAsync(PlanSession s, string host, IReadOnlyList<PlanStep> steps,
        IReadOnlyList<PlanStep> set, IApplyTogether provider, HostRun run, CancellationToken ct)
    {
        var due = DueRestarts(s, host, steps, set.SelectMany(m => m.Desired is INotifying n ? n.Notify : []));
        if (due.Length > 0) await UpdatePendingAsync(s, add: due, remove: []);
        foreach (var m in set) deps.Log.Host(host, $"{m.Op.Symbol()} {m.Type} {m.Name}");
        deps.Log.Info($"{host}: {set.Count} resources written, validated and moved into place together");
        IReadOnlyList<LiveState> lives;
        try { lives = await provider.ApplySetAsync([.. set.Select(m => (m.Desired!, m.Diff))], run, ct); }
        catch (ResourceException) when (due.Length > 0 && !ct.IsCancellationRequested)
        {
            // the host said no: none of the files changed, so none of the restarts is due
            await UpdatePendingAsync(s, add: [], remove: due);
            throw;
        }
        return set.Select((m, i) => Record(s, m, lives[i]));
    }
}
