using System.Diagnostics;
using System.Net;
using AwesomeAssertions;
using Docker.DotNet.Models;
using Xunit;

namespace Deploy.Lab.Tests;

public sealed class DestroyFixture() : LabFixture(subnetOctet: 2);

public sealed class DestroyTests(DestroyFixture lab) : IClassFixture<DestroyFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Destroy_leaves_no_container_or_network_behind()
    {
        var clock = Stopwatch.StartNew();
        var hosts = await Task.WhenAll(
            lab.Provider.EnsureHostAsync(lab.Spec, lab.Host("a", 11), Ct),
            lab.Provider.EnsureHostAsync(lab.Spec, lab.Host("b", 12, user: "deploy"), Ct),
            lab.Provider.EnsureHostAsync(lab.Spec, lab.Host("c", 13), Ct));
        TestContext.Current.SendDiagnosticMessage($"3 hosts ensured concurrently in {clock.Elapsed.TotalSeconds:0.0} s");
        foreach (var h in hosts)
            (await SshBanner.ReadAsync(IPAddress.Parse(h.Address), TimeSpan.FromSeconds(5), Ct)).Should().StartWith("SSH-2.0-");
        (await lab.Provider.ReadAsync(lab.Stack, Ct)).Select(h => h.Name).Should().Equal("a", "b", "c");

        await lab.Provider.DestroyAsync(lab.Stack, Ct);

        var label = new Dictionary<string, IDictionary<string, bool>>
        {
            ["label"] = new Dictionary<string, bool> { [$"nf-deploy.stack={lab.Stack}"] = true },
        };
        (await lab.Docker.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = label }, Ct))
            .Should().BeEmpty();
        (await lab.Docker.Networks.ListNetworksAsync(new NetworksListParameters { Filters = label }, Ct)).Should().BeEmpty();
        (await lab.Provider.ReadAsync(lab.Stack, Ct)).Should().BeEmpty();
        await lab.Provider.DestroyAsync(lab.Stack, Ct); // destroying what is gone is not an error
    }
}
