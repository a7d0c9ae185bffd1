using System.Collections.Immutable;
using AwesomeAssertions;
using Deploy.Core.Lab;
using Deploy.Core.State;

namespace Deploy.Tests;

/// <summary>Creating many lab hosts at once (issue 17's benches create 100): each container's first start makes its host
/// keys on this machine's CPU, so only a few start per core at once, whatever -p says.</summary>
public sealed class LabCreationSpecs
{
    [Fact]
    public async Task Fifty_new_lab_hosts_with_p_50_are_created_a_few_per_core_at_a_time()
    {
        var lab = new SlowLab();
        var hosts = Enumerable.Range(1, 50).Select(i => new LabHostSpec($"h{i}", $"10.211.0.{10 + i}", "root")).ToImmutableArray();
        var spec = new LabSpec("lab", "nfd-lab", "10.211.0.0/24", "10.211.0.1", "img", "http://10.211.0.1:3142", "ssh-ed25519 AAAA", hosts);
        var site = new LabSite(spec);
        var changes = hosts.Select(h => new LabChange(h.Name, Deploy.Core.Resources.StepOp.Create)).ToImmutableArray();

        var (_, created) = await new LabPhase(lab, null, new Deploy.Core.Engine.NullRunLog()).ProvisionAsync(site, StackState.Empty("lab"), changes,
            new Deploy.Core.State.FileStateStore(Path.GetTempPath()), new ParallelOptions { MaxDegreeOfParallelism = 50 }, TestContext.Current.CancellationToken);

        created.Should().BeTrue();
        lab.Created.Should().Be(50);
        lab.MostAtOnce.Should().BeInRange(2, LabPhase.CreationsPerCore * Environment.ProcessorCount);
    }

    private sealed record LabSite(LabSpec Spec) : Deploy.Core.Engine.ISiteProgram
    {
        public string Stack => Spec.Stack;

        public LabSpec? Lab => Spec;

        public ImmutableArray<Deploy.Core.Engine.HostTarget> Hosts => [.. Spec.Hosts.Select(h => new Deploy.Core.Engine.HostTarget(h.Name,
            new Deploy.Core.Transport.HostConnection(h.Name, new Deploy.Core.Transport.SshEndpoint(h.Address, 22, "root", "/dev/null")), h, null))];

        public ImmutableArray<Deploy.Core.Engine.HostDesired> Materialize(IReadOnlyDictionary<string, Deploy.Core.Model.HostFacts> facts, CancellationToken ct) => [];
    }

    private sealed class SlowLab : ILabProvider
    {
        private int _now;
        private int _most;
        private int _created;

        public int MostAtOnce => _most;

        public int Created => _created;

        public async Task<LabHostState> EnsureHostAsync(LabSpec lab, LabHostSpec host, CancellationToken ct)
        {
            var now = Interlocked.Increment(ref _now);
            InterlockedMax(ref _most, now);
            await Task.Delay(20, ct);
            Interlocked.Decrement(ref _now);
            Interlocked.Increment(ref _created);
            return new LabHostState(host.Name, "c", host.Address, true);
        }

        private static void InterlockedMax(ref int target, int value)
        {
            int seen;
            while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
        }

        public Task<ImmutableArray<LabHostState>> ReadAsync(string stack, CancellationToken ct) => Task.FromResult(ImmutableArray<LabHostState>.Empty);

        public Task DeleteHostAsync(string stack, string name, CancellationToken ct) => Task.CompletedTask;

        public Task DestroyAsync(string stack, CancellationToken ct) => Task.CompletedTask;
    }
}
