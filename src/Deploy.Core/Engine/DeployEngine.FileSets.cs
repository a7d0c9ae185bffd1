using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Core.State;

namespace Deploy.Core.Engine;

public sealed partial class DeployEngine
{
    /// <summary>Applies a set of files that change together (<see cref="FileSets"/>): the restarts they cause are
    /// recorded first (no lost restarts), then the provider writes, validates and swaps them as one.</summary>
    private async Task<IEnumerable<ResourceRecord>> ApplySetAsync(PlanSession s, string host, IReadOnlyList<PlanStep> steps,
        IReadOnlyList<PlanStep> set, IFileSetApply provider, HostRun run, CancellationToken ct)
    {
        var notify = set.SelectMany(m => ((FileSpec)m.Desired!).Notify).ToHashSet(StringComparer.Ordinal);
        string[] due = [.. steps.Where(o => o.Desired is ServiceSpec svc && notify.Contains(svc.Name) && o.Restarts)
            .Select(o => $"{host}:{o.Name}").Except(s.State.PendingRestarts)];
        if (due.Length > 0) await UpdatePendingAsync(s, add: due, remove: []);
        foreach (var m in set) deps.Log.Host(host, $"{m.Op.Symbol()} {m.Type} {m.Name}");
        deps.Log.Info($"{host}: {set.Count} files written, validated and moved into place together");
        IReadOnlyList<LiveState> lives;
        try { lives = await provider.ApplySetAsync([.. set.Select(m => ((FileSpec)m.Desired!, m.Diff))], run, ct); }
        catch (ResourceException) when (due.Length > 0 && !ct.IsCancellationRequested)
        {
            // the host said no: none of the files changed, so none of the restarts is due
            await UpdatePendingAsync(s, add: [], remove: due);
            throw;
        }
        return set.Select((m, i) => new ResourceRecord(m.Urn, m.Type, host, m.Name, m.Desired!.Identity, lives[i].Props));
    }
}
