using System.Collections.Immutable;
using Deploy.Core.Resources;

namespace Deploy.Core.Engine;

/// <summary>Hosts that roll out together. A group whose running services the run restarts goes batch after batch (a
/// cluster never loses all its members at once) and stops when more than <paramref name="MaxFailPercent"/> of its hosts
/// failed; any other host (nothing running restarts, or a new host) is a wave of its own, all at once with the others.</summary>
/// <param name="Batched">True for a group whose running services restart: its batches go one after the other.</param>
public sealed record RolloutWave(string Group, ImmutableArray<ImmutableArray<string>> Batches, int MaxFailPercent, bool Batched)
{
    public int HostCount => Batches.Sum(b => b.Length);
}

/// <summary>The waves of a rollout, decided from the plan alone: preview shows the batches <c>up</c> goes by.</summary>
public static class RolloutWaves
{
    public static ImmutableArray<RolloutWave> Of(IReadOnlyList<HostTarget> hosts, IEnumerable<PlanStep> steps)
    {
        var restarting = steps.Where(s => s.Restarts && s.Op == StepOp.Update).Select(s => s.Host).ToHashSet(StringComparer.Ordinal);
        var alone = hosts.Where(h => !restarting.Contains(h.Name))
            .Select(h => new RolloutWave(h.Rollout.Group, [[h.Name]], h.Rollout.MaxFailPercent, Batched: false));
        var batched = hosts.Where(h => restarting.Contains(h.Name)).GroupBy(h => h.Rollout.Group).Select(group =>
        {
            var members = group.ToArray();
            var size = members[0].Rollout.BatchSize(members.Length);
            return new RolloutWave(group.Key, [.. members.Chunk(size).Select(b => b.Select(h => h.Name).ToImmutableArray())],
                members[0].Rollout.MaxFailPercent, Batched: true);
        });
        return [.. alone, .. batched];
    }
}
