using System.Collections.Immutable;

namespace Deploy.Core.Lab;

/// <summary>A lab site: a private network and its hosts, created on this machine.</summary>
/// <param name="Stack">Stack name; every object created is labelled with it.</param>
/// <param name="Network">Name of the Docker network (created with Internal=true).</param>
/// <param name="Subnet">CIDR of the network, e.g. 10.211.0.0/24.</param>
/// <param name="Gateway">The controller's address on that network (where apt-cacher-ng answers).</param>
/// <param name="Image">Base image (sshd, sudo) built locally.</param>
/// <param name="AptProxy">URL lab hosts use as apt proxy, e.g. http://10.211.0.1:3142.</param>
/// <param name="AuthorizedKey">OpenSSH public key line installed for root and for every lab login user.</param>
public sealed record LabSpec(
    string Stack,
    string Network,
    string Subnet,
    string Gateway,
    string Image,
    string AptProxy,
    string AuthorizedKey,
    ImmutableArray<LabHostSpec> Hosts);

/// <param name="Name">Inventory name; also the container's hostname.</param>
/// <param name="Address">Fixed IPv4 address on the lab network.</param>
/// <param name="LoginUser">User the deployer logs in as ("root" or a user given passwordless sudo).</param>
/// <param name="Devices">Host devices passed into the container (e.g. /dev/net/tun); empty or default: none.</param>
/// <param name="Capabilities">Linux capabilities added to the container's (e.g. NET_ADMIN); empty or default: none.</param>
public sealed record LabHostSpec(string Name, string Address, string LoginUser,
    ImmutableArray<string> Devices = default, ImmutableArray<string> Capabilities = default)
{
    /// <summary>PID 1 of the host: "sysv" (sshd, with the init.d scripts of runlevel 2 started at boot) or "systemd"
    /// (systemd itself, from the lab image with systemd, as on a real Debian host).</summary>
    public string Init { get; init; } = LabInit.Sysv;
}

public static class LabInit
{
    public const string Sysv = "sysv";
    public const string Systemd = "systemd";
}

/// <summary>A lab host as it exists now.</summary>
public sealed record LabHostState(string Name, string ContainerId, string Address, bool Running);

public interface ILabProvider
{
    /// <summary>Lab hosts that exist for the stack (by label), running or not.</summary>
    Task<ImmutableArray<LabHostState>> ReadAsync(string stack, CancellationToken ct);

    /// <summary>Creates what is missing: base image, network, the host's container (started, sshd up, apt proxy
    /// set, login user and key installed). Idempotent.</summary>
    Task<LabHostState> EnsureHostAsync(LabSpec lab, LabHostSpec host, CancellationToken ct);

    /// <summary>Removes one lab host's container.</summary>
    Task DeleteHostAsync(string stack, string name, CancellationToken ct);

    /// <summary>Removes every container and network labelled with the stack.</summary>
    Task DestroyAsync(string stack, CancellationToken ct);
}
