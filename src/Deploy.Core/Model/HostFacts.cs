using System.Collections.Immutable;

namespace Deploy.Core.Model;

/// <summary>One network interface and its addresses (CIDR notation stripped to the address).</summary>
/// <param name="Tunnel">A device without a link layer (<c>link/none</c>: a TUN such as Open5GS's ogstun): its addresses
/// are the UEs' gateways, not the host's, and never go into the host's certificate.</param>
public sealed record NetInterface(string Name, ImmutableArray<string> IPv4, ImmutableArray<string> IPv6, bool Tunnel = false);

/// <summary>
/// What a host is, gathered once per run in the same round trip as the live state of its resources.
/// Templates see these as <c>host.*</c>.
/// </summary>
/// <param name="DefaultIPv4">The IPv4 address of the interface that carries the default route (Ansible's ansible_default_ipv4).</param>
/// <param name="InitSystem">"systemd" or "sysv".</param>
/// <param name="Packages">Installed Debian packages: name → version.</param>
public sealed record HostFacts(
    string Hostname,
    string Codename,
    string InitSystem,
    string Arch,
    string? DefaultInterface,
    string? DefaultIPv4,
    ImmutableArray<NetInterface> Interfaces,
    ImmutableSortedDictionary<string, string> Packages)
{
    public NetInterface? Interface(string name) => Interfaces.FirstOrDefault(i => i.Name == name);

    /// <summary>Value equality (records compare their immutable collections by reference).</summary>
    public bool SameAs(HostFacts? other) =>
        other is not null
        && (Hostname, Codename, InitSystem, Arch, DefaultInterface, DefaultIPv4) == (other.Hostname, other.Codename, other.InitSystem, other.Arch, other.DefaultInterface, other.DefaultIPv4)
        && Interfaces.Length == other.Interfaces.Length
        && Interfaces.Zip(other.Interfaces).All(p => p.First.Name == p.Second.Name && p.First.IPv4.SequenceEqual(p.Second.IPv4) && p.First.IPv6.SequenceEqual(p.Second.IPv6))
        && Packages.Count == other.Packages.Count
        && Packages.SequenceEqual(other.Packages);

    /// <summary>Facts known without asking the host (lab hosts, inventory-declared facts): nothing installed yet.</summary>
    public static HostFacts Assumed(string hostname, string address, string iface = "eth0", string codename = "bookworm", string init = "sysv") =>
        new(hostname, codename, init, "amd64", iface, address,
            [new NetInterface("lo", ["127.0.0.1"], ["::1"]), new NetInterface(iface, [address], [])],
            ImmutableSortedDictionary<string, string>.Empty);
}
