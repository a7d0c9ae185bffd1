using System.Collections.Immutable;
using AwesomeAssertions;
using Deploy.Core.Lab;
using Deploy.Core.Model;
using Xunit;

namespace Deploy.Lab.Tests;

public sealed class SpecErrorTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly LabSpec Lab = new("t-lab-spec", "nfd-t-lab-spec", "10.213.250.0/24", "10.213.250.1",
        LabFixture.Image, "http://10.213.250.1:3142", "ssh-ed25519 AAAA test", ImmutableArray<LabHostSpec>.Empty);

    [Fact]
    public async Task An_address_outside_the_lab_subnet_is_refused_before_anything_is_created()
    {
        await using var provider = new DockerLabProvider(options: DockerLabOptions.Default with
        {
            DockerEndpoint = new Uri("unix:///nonexistent/docker.sock"),
        });

        var act = () => provider.EnsureHostAsync(Lab, new LabHostSpec("sip1", "10.213.251.5", "root"), Ct);

        (await act.Should().ThrowAsync<DeployException>()).WithMessage(
            "lab stack t-lab-spec: host sip1: address 10.213.251.5 is outside the lab subnet 10.213.250.0/24");
    }

    [Theory]
    [InlineData("sip_1", "10.213.250.5", "root", "*not a valid hostname*")]
    [InlineData("sip1", "10.213.250.1", "root", "*is the gateway's*")]
    [InlineData("sip1", "10.213.250.5", "Bad User", "*login user 'Bad User' is not a valid user name*")]
    public async Task A_host_spec_that_cannot_work_is_refused_with_the_reason(string name, string address, string user, string message)
    {
        await using var provider = new DockerLabProvider(options: DockerLabOptions.Default with
        {
            DockerEndpoint = new Uri("unix:///nonexistent/docker.sock"),
        });

        var act = () => provider.EnsureHostAsync(Lab, new LabHostSpec(name, address, user), Ct);

        await act.Should().ThrowAsync<DeployException>().WithMessage(message);
    }

    [Fact]
    public async Task An_unreachable_docker_engine_is_reported_with_how_to_start_it()
    {
        await using var provider = new DockerLabProvider(options: DockerLabOptions.Default with
        {
            DockerEndpoint = new Uri("unix:///nonexistent/docker.sock"),
        });

        var act = () => provider.ReadAsync("t-lab-spec", Ct);

        await act.Should().ThrowAsync<DeployException>().WithMessage(
            "docker engine not reachable at unix:///nonexistent/docker.sock: start dockerd (scripts/setup-controller.sh does)");
    }
}
