using System.Collections.Immutable;
using AwesomeAssertions;
using Deploy.Core.Engine;
using Deploy.Core.Model;
using Deploy.Core.Resources;

namespace Deploy.Tests;

/// <summary>
/// The first rendering of a run (with the facts known before any host answers, to read every resource in one round
/// trip) runs while the hosts are connected to (issue 17). It still comes before anything is read: each host's read is
/// of what it rendered, and a rendering that fails on the run's own error reads no host at all.
/// </summary>
public sealed class PreliminaryRenderSpecs : IDisposable
{
    private const string V1 = "listen=udp:0.0.0.0:5060\n";
    private readonly EngineRig _rig = new([.. Enumerable.Range(1, 3).Select(i =>
        new FakeHost($"h{i}", $"10.0.0.{10 + i}").WithFile(ProxySite.ConfigPath, V1).WithService(ProxySite.ServiceName))]);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_converged_site_is_read_in_one_round_trip_per_host_of_what_the_first_rendering_asked_for()
    {
        var site = ProxySite.Of(_rig.Hosts, V1);
        await _rig.UpAsync(site, Ct);

        var (plan, sent) = await _rig.PreviewAsync(site, Ct);

        plan.HasChanges.Should().BeFalse();
        foreach (var host in _rig.Hosts)
            sent[host.Name].Select(s => s.Kind).Should().Equal([ScriptKind.Read], $"{host.Name} was read once, config and service alike");
    }

    [Fact]
    public async Task A_rendering_that_fails_on_an_error_of_the_run_reads_no_host_and_the_error_is_the_runs()
    {
        var site = new FailingSite(ProxySite.Of(_rig.Hosts, V1));

        var preview = () => _rig.PreviewAsync(site, Ct);

        await preview.Should().ThrowAsync<DeployException>().WithMessage("tlsRenewDays must be a number of days*");
        _rig.Hosts.SelectMany(h => h.Sent).Should().BeEmpty("no script reached any host");
    }

    /// <summary>A site whose rendering fails as a malformed setting makes it fail: not a template error a live fact could cure.</summary>
    private sealed record FailingSite(ProxySite Inner) : ISiteProgram
    {
        public string Stack => Inner.Stack;

        public Deploy.Core.Lab.LabSpec? Lab => null;

        public ImmutableArray<HostTarget> Hosts => Inner.Hosts;

        public ImmutableArray<HostDesired> Materialize(IReadOnlyDictionary<string, HostFacts> facts, CancellationToken ct) =>
            throw new DeployException("tlsRenewDays must be a number of days (0 or more), not 'soon'");
    }

    public void Dispose() => _rig.Dispose();
}
