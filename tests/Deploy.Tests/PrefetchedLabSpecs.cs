using System.Collections.Immutable;
using AwesomeAssertions;
using Deploy.Core.Model;
using Deploy.Core.Lab;

namespace Deploy.Tests;

/// <summary>
/// Which lab hosts run is asked of Docker while the site loads (issue 17: the lab's query is no longer added to the
/// passphrase's key derivation): the engine's first read of the stack's lab gets that answer, and everything else goes
/// to the lab as before.
/// </summary>
public sealed class PrefetchedLabSpecs
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly ImmutableArray<LabHostState> Early = [new("kamailio-1", "c1", "10.211.0.11", true)];

    [Fact]
    public async Task The_first_read_of_the_stack_is_the_one_made_while_the_site_loaded_and_later_reads_ask_the_lab_again()
    {
        var lab = new CountingLab();
        var prefetched = new PrefetchedLab(lab, "lab", Task.FromResult(Early));

        (await prefetched.ReadAsync("lab", Ct)).Should().Equal(Early);
        lab.Reads.Should().Be(0);

        (await prefetched.ReadAsync("lab", Ct)).Should().Equal(lab.Hosts);
        (await prefetched.ReadAsync("other", Ct)).Should().Equal(lab.Hosts);
        lab.Reads.Should().Be(2);
    }

    [Fact]
    public async Task A_lab_that_could_not_be_read_while_the_site_loaded_fails_the_read_with_the_labs_own_error()
    {
        var prefetched = new PrefetchedLab(new CountingLab(), "lab",
            Task.FromException<ImmutableArray<LabHostState>>(new DeployException("docker engine not reachable at unix:///var/run/docker.sock")));

        await prefetched.Invoking(p => p.ReadAsync("lab", Ct)).Should().ThrowAsync<DeployException>().WithMessage("docker engine not reachable*");
    }

    private sealed class CountingLab : ILabProvider
    {
        public ImmutableArray<LabHostState> Hosts { get; } = [new("kamailio-1", "c2", "10.211.0.11", false)];

        public int Reads { get; private set; }

        public Task<ImmutableArray<LabHostState>> ReadAsync(string stack, CancellationToken ct)
        {
            Reads++;
            return Task.FromResult(Hosts);
        }

        public Task<LabHostState> EnsureHostAsync(LabSpec lab, LabHostSpec host, CancellationToken ct) => throw new NotSupportedException();

        public Task DeleteHostAsync(string stack, string name, CancellationToken ct) => throw new NotSupportedException();

        public Task DestroyAsync(string stack, CancellationToken ct) => throw new NotSupportedException();
    }
}
