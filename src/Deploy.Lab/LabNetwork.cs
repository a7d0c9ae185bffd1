using System.Net;
using Deploy.Core.Lab;
using Deploy.Core.Model;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Deploy.Lab;

/// <summary>The lab's private network: a bridge created with Internal=true, so hosts on it reach only each other
/// and the controller, which holds the gateway address.</summary>
internal sealed class LabNetwork(IDockerClient docker)
{
    public async Task EnsureAsync(LabSpec lab, CancellationToken ct)
    {
        var existing = await FindAsync(lab.Network, ct);
        if (existing is null)
        {
            try
            {
                await docker.Networks.CreateNetworkAsync(new NetworksCreateParameters
                {
                    Name = lab.Network,
                    Driver = "bridge",
                    CheckDuplicate = true,
                    Internal = true,
                    IPAM = new IPAM
                    {
                        Driver = "default",
                        Config = [new IPAMConfig { Subnet = lab.Subnet, Gateway = lab.Gateway }],
                    },
                    Labels = new Dictionary<string, string> { [LabLabels.Stack] = lab.Stack },
                }, ct);
                return;
            }
            catch (DockerApiException e) when (DockerErrors.IsConflict(e))
            {
                // another process created it meanwhile: check it below
                existing = await FindAsync(lab.Network, ct);
            }
            catch (DockerApiException e)
            {
                throw DockerErrors.Translate(e, $"lab stack {lab.Stack}: creating network {lab.Network} ({lab.Subnet})",
                    docker.Configuration.EndpointBaseUri);
            }
        }
        if (existing is not null)
            Check(lab, existing);
    }

    private async Task<NetworkResponse?> FindAsync(string name, CancellationToken ct)
    {
        var all = await docker.Networks.ListNetworksAsync(new NetworksListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["name"] = new Dictionary<string, bool> { [name] = true } },
        }, ct);
        // the name filter matches substrings
        return all.FirstOrDefault(n => n.Name == name);
    }

    private static void Check(LabSpec lab, NetworkResponse network)
    {
        var config = network.IPAM?.Config?.FirstOrDefault();
        var problems = new List<string>();
        if (!network.Internal)
            problems.Add("it is not internal");
        if (config?.Subnet != lab.Subnet)
            problems.Add($"its subnet is {config?.Subnet ?? "unset"}, not {lab.Subnet}");
        if (config?.Gateway is { Length: > 0 } gw && !IPAddress.Parse(gw).Equals(IPAddress.Parse(lab.Gateway)))
            problems.Add($"its gateway is {gw}, not {lab.Gateway}");
        if (problems.Count > 0)
            throw new DeployException(
                $"lab stack {lab.Stack}: docker network {lab.Network} exists but {string.Join(" and ", problems)}; " +
                $"remove it (docker network rm {lab.Network}) or choose another network name");
    }

    /// <summary>Removes every network labelled with the stack (its containers must be gone).</summary>
    public async Task RemoveAllAsync(string stack, CancellationToken ct)
    {
        var networks = await docker.Networks.ListNetworksAsync(new NetworksListParameters
        {
            Filters = LabLabels.Filter((LabLabels.Stack, stack)),
        }, ct);
        foreach (var network in networks)
        {
            try
            {
                await docker.Networks.DeleteNetworkAsync(network.ID, ct);
            }
            catch (DockerApiException e) when (DockerErrors.IsNotFound(e))
            {
            }
        }
    }
}
