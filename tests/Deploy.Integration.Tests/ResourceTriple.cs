using System.Collections.Immutable;
using AwesomeAssertions;
using Deploy.Core.Probes;
using Deploy.Core.Engine;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Core.Transport;
using Deploy.Resources;

namespace Deploy.Integration.Tests;

/// <summary>A resource on a real lab host through its provider: read, check → apply → apply again, delete.</summary>
public static class ResourceTriple
{
    public static readonly ImmutableDictionary<string, IResourceProvider> Providers = ResourceProviders.All();

    public static async Task<(LiveState? Live, HostFacts Facts)> ReadAsync(IHostTransport t, ResourceSpec spec)
    {
        var p = Providers[spec.Type];
        var res = await t.RunAsync(HostReader.BuildScript([(spec.Key, p.Probe(spec.Identity))]), TestContext.Current.CancellationToken);
        var read = HostReader.Parse(t.HostName, res.Stdout);
        return (p.Parse(spec, read.Probes[spec.Key], read.Facts), read.Facts);
    }

    /// <summary>check → apply → apply again; returns the live state after the first apply.</summary>
    public static async Task<LiveState> TripleAsync(IHostTransport t, ResourceSpec spec, StepOp expected, string? fingerprint = null)
    {
        var p = Providers[spec.Type];
        var ct = TestContext.Current.CancellationToken;
        var (live, facts) = await ReadAsync(t, spec);
        var check = p.Diff(spec, live);
        check.Op.Should().Be(expected, "check predicts the change");
        var before = fingerprint is null ? null : (await t.RunAsync(fingerprint, ct)).Stdout;
        (await ReadAsync(t, spec)).Live.Should().BeEquivalentTo(live, "check changes nothing");
        if (fingerprint is not null) (await t.RunAsync(fingerprint, ct)).Stdout.Should().Be(before);

        var applied = await p.ApplyAsync(spec, check, new HostRun(t, facts), ct);
        var (after, _) = await ReadAsync(t, spec);
        p.Diff(spec, after).Should().Be(ResourceDiff.Same, "after apply the host matches");
        var snapshot = fingerprint is null ? null : (await t.RunAsync(fingerprint, ct)).Stdout;

        // apply again: the engine applies only what a diff says; the diff is empty and the host does not move
        var (again, _) = await ReadAsync(t, spec);
        p.Diff(spec, again).Should().Be(ResourceDiff.Same);
        again.Should().BeEquivalentTo(after);
        if (fingerprint is not null) (await t.RunAsync(fingerprint, ct)).Stdout.Should().Be(snapshot);
        return applied;
    }

    public static async Task DeleteAsync(IHostTransport t, ResourceSpec spec)
    {
        var (_, facts) = await ReadAsync(t, spec);
        await Providers[spec.Type].DeleteAsync(spec.Identity, new HostRun(t, facts), TestContext.Current.CancellationToken);
        (await ReadAsync(t, spec)).Live.Should().BeNull("deleted");
    }
}
