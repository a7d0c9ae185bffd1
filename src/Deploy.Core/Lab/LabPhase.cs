using System.Collections.Immutable;
using Deploy.Core.Engine;
using Deploy.Core.Resources;
using Deploy.Core.State;
using Deploy.Core.Transport;

namespace Deploy.Core.Lab;

/// <summary>A lab host the plan creates, removes or keeps (shown like a resource: <c>+ nfdeploy:lab:Host pgw-4</c>).</summary>
public sealed record LabChange(string Host, StepOp Op)
{
    public const string Type = "nfdeploy:lab:Host";

    public string Urn(string stack) => $"urn:pulumi:{stack}::nf-deploy::{Type}::{Host}";
}

/// <summary>
/// The lab's own phase, around the engine's planning: before the hosts are read, which lab hosts run (the others are
/// not contacted: <c>up</c> creates them); in <c>up</c>, before the rollout, the containers of hosts gone from the
/// inventory removed (with their records) and the missing ones created, after which the engine plans again against
/// what is really there; in <c>destroy</c>, every container and the network.
/// </summary>
public sealed class LabPhase(ILabProvider? provider, IHostKeyStore? hostKeys, IRunLog log)
{
    /// <summary>How many lab hosts are created at once per core of this machine.</summary>
    public const int CreationsPerCore = 4;

    /// <summary>The site's lab hosts that are not running.</summary>
    public async Task<ImmutableHashSet<string>> MissingAsync(ISiteProgram site, CancellationToken ct)
    {
        // without a lab to ask, no lab host can be there
        var running = site.Lab is null || provider is null
            ? []
            : (await provider.ReadAsync(site.Stack, ct)).Where(h => h.Running).Select(h => h.Name).ToHashSet();
        return [.. site.Hosts.Where(h => h.Lab is not null && !running.Contains(h.Name)).Select(h => h.Name)];
    }

    /// <summary>What a plan shows: lab hosts gone from the inventory removed; every lab host of the site created or kept
    /// (but hosts that could not be planned).</summary>
    public static ImmutableArray<LabChange> Changes(ISiteProgram site, StackState state, IReadOnlySet<string> missing, IReadOnlySet<string> problems)
    {
        var siteHosts = site.Hosts.Select(h => h.Name).ToHashSet();
        return
        [
            .. state.Hosts.Values.Where(h => h.Lab && !siteHosts.Contains(h.Name)).Select(h => new LabChange(h.Name, StepOp.Delete)),
            .. site.Hosts.Where(h => h.Lab is not null && !problems.Contains(h.Name))
                .Select(h => new LabChange(h.Name, missing.Contains(h.Name) ? StepOp.Create : StepOp.Same)),
        ];
    }

    /// <summary>Removes the lab hosts the plan removes (their records leave the state, which is saved) and creates the
    /// missing ones. Returns the state and whether a host was created (the engine then reads the site again).</summary>
    public async Task<(StackState State, bool Created)> ProvisionAsync(ISiteProgram site, StackState state, ImmutableArray<LabChange> changes,
        IStateStore store, ParallelOptions parallel, CancellationToken ct)
    {
        if (site.Lab is not { } lab || provider is null) return (state, false);
        var removals = changes.Where(c => c.Op == StepOp.Delete).ToArray();
        foreach (var removal in removals)
        {
            log.Host(removal.Host, "removing lab host");
            await provider.DeleteHostAsync(site.Stack, removal.Host, ct);
            if (state.Hosts.GetValueOrDefault(removal.Host)?.Facts.DefaultIPv4 is { } address) hostKeys?.Forget(address, 22);
        }
        if (removals.Length > 0)
        {
            var gone = removals.Select(r => r.Host).ToHashSet();
            state = state with { Hosts = state.Hosts.RemoveRange(gone), Resources = [.. state.Resources.Where(r => !gone.Contains(r.Host))] };
            await store.SaveAsync(state with { Updated = DateTimeOffset.UtcNow }, ct);
        }
        var missing = changes.Where(c => c.Op == StepOp.Create).Select(c => c.Host).ToHashSet();
        var toCreate = site.Hosts.Where(h => missing.Contains(h.Name) && h.Lab is not null).ToArray();
        // a container's first start makes its host keys and starts sshd: CPU of this machine, not of a remote host, so
        // at most a few per core at once (50 at once on two cores left sshd silent past its start-up timeout)
        var creating = new ParallelOptions
        {
            MaxDegreeOfParallelism = Math.Min(parallel.MaxDegreeOfParallelism is > 0 and var p ? p : int.MaxValue, CreationsPerCore * Environment.ProcessorCount),
            CancellationToken = parallel.CancellationToken,
        };
        await Parallel.ForEachAsync(toCreate, creating, async (host, token) =>
        {
            log.Host(host.Name, $"creating lab host at {host.Lab!.Address}");
            hostKeys?.Forget(host.Lab.Address, 22);
            await provider.EnsureHostAsync(lab, host.Lab, token);
        });
        return (state, toCreate.Length > 0);
    }

    /// <summary>Removes every lab host and the lab network of the stack, and forgets their host keys.</summary>
    public async Task DestroyAsync(ISiteProgram site, StackState state, CancellationToken ct)
    {
        if (provider is null || (site.Lab is null && !state.Hosts.Values.Any(h => h.Lab))) return;
        log.Info($"removing lab hosts and network of stack {site.Stack}");
        await provider.DestroyAsync(site.Stack, ct);
        foreach (var host in state.Hosts.Values.Where(h => h.Lab))
            if (host.Facts.DefaultIPv4 is { } address) hostKeys?.Forget(address, 22);
        foreach (var host in site.Hosts.Where(h => h.Lab is not null))
            hostKeys?.Forget(host.Lab!.Address, 22);
    }
}
