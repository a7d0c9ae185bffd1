using AwesomeAssertions;
using Deploy.Core.Model;

namespace Deploy.Tests;

/// <summary>
/// One address may front several hosts on distinct SSH ports (port forwarding on a NAT gateway; bench/sim runs many sshd
/// per container to simulate 500 hosts): they are distinct hosts. Two hosts on the same address and port are refused.
/// </summary>
public sealed class SharedAddressSpecs : IDisposable
{
    private readonly SiteFixture _site = SiteFixture.FromRepo();

    private SiteFixture Inventory(int port1, int port2) => _site
        .Write("roles/bare.yaml", "description: no network function\nnfs: []\n")
        .Write("stacks/Pulumi.nat.yaml", "config:\n  nf-deploy:inventory: nat\n")
        .Write("inventory/nat.yaml", "ssh: { user: root, key: keys/id }\nhosts:\n" +
            $"  edge-1:\n    address: 10.9.0.2\n    ssh: {{ port: {port1} }}\n    roles: [bare]\n" +
            $"  edge-2:\n    address: 10.9.0.2\n    ssh: {{ port: {port2} }}\n    roles: [bare]\n");

    [Fact]
    public async Task Two_hosts_at_one_address_on_distinct_ssh_ports_are_two_hosts()
    {
        var site = await Inventory(2201, 2202).LoadAsync("nat");

        site.Hosts.Select(h => (h.Name, h.Connection.Endpoint.Address, h.Connection.Endpoint.Port))
            .Should().Equal(("edge-1", "10.9.0.2", 2201), ("edge-2", "10.9.0.2", 2202));
    }

    [Fact]
    public async Task Two_hosts_at_one_address_and_one_ssh_port_are_refused_at_the_second_hosts_address()
    {
        var load = () => Inventory(2201, 2201).LoadAsync("nat");

        (await load.Should().ThrowAsync<SiteException>()).Which.Message
            .Should().Be("inventory/nat.yaml:8: hosts 'edge-1' and 'edge-2' have the same address 10.9.0.2 and ssh port 2201");
    }

    public void Dispose() => _site.Dispose();
}
