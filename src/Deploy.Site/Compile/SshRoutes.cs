using Deploy.Core.Model;
using Deploy.Core.Transport;
using Deploy.Site.Model;

namespace Deploy.Site.Compile;

/// <summary>
/// How each host is reached over SSH: the inventory's <c>ssh:</c> keys, with what they leave unset filled from the
/// operator's ~/.ssh/config as <c>ssh &lt;address&gt;</c> would read it (a <c>Host</c> block may also name the inventory
/// host). Lab hosts are this program's own containers: the inventory alone says how to reach them.
/// </summary>
public static class SshRoutes
{
    public static HostConnection Connection(string projectDir, InventoryHost host, SshConfigFile config)
    {
        if (host.Lab)
        {
            var labJump = host.Jump is { } declared
                ? new SshEndpoint(declared.Address, declared.Port, declared.User, SiteProgram.KeyPath(projectDir, declared.Key))
                { Name = declared.Name }
                : null;
            return new(host.Name, new SshEndpoint(host.Address, host.Port, host.User, SiteProgram.KeyPath(projectDir, host.Key)), labJump);
        }
        var endpoint = Endpoint(projectDir, host.Name, host.Address, host.Ssh, config);
        SshEndpoint? jump = null;
        if (host.Jump is { } inventoryJump)
        {
            var bastion = Endpoint(projectDir, inventoryJump.Name ?? inventoryJump.Address, inventoryJump.Address, inventoryJump.Ssh, config);
            jump = bastion with { Name = inventoryJump.Name };
        }
        else if (host.Ssh.Jump is null && Lookup(config, host.Name, host.Address).ProxyJump is { } proxy)
            jump = ProxyJump(config, proxy);
        return new(host.Name, endpoint, jump);
    }

    /// <summary>The ssh config's values for a host: those of its address (what ssh would be given) first, then of its name.</summary>
    private static SshConfigEntry Lookup(SshConfigFile config, string name, string address)
    {
        var byAddress = config.For(address);
        if (name == address) return byAddress;
        var byName = config.For(name);
        return new SshConfigEntry(byAddress.HostName, byAddress.User ?? byName.User, byAddress.Port ?? byName.Port,
            byAddress.IdentityFile ?? byName.IdentityFile, byAddress.ProxyJump ?? byName.ProxyJump,
            byAddress.ConnectTimeout ?? byName.ConnectTimeout, byAddress.ConnectionAttempts ?? byName.ConnectionAttempts);
    }

    private static SshEndpoint Endpoint(string projectDir, string name, string address, SshSettings ssh, SshConfigFile config)
    {
        var found = Lookup(config, name, address);
        return new SshEndpoint(found.HostName ?? address, ssh.Port ?? found.Port ?? 22, ssh.User ?? found.User ?? "root",
            ssh.Key is { } key ? SiteProgram.KeyPath(projectDir, key) : found.IdentityFile is { } file ? Path.GetFullPath(file) : null)
        {
            Passphrase = ssh.KeyPassphraseEnv is { } variable ? new SshKeyPassphrase(variable, null)
                : ssh.KeyPassphraseFile is { } phraseFile ? new SshKeyPassphrase(null, SiteProgram.KeyPath(projectDir, phraseFile)) : null,
            UseAgent = ssh.Agent ?? true,
            ConnectTimeout = ssh.ConnectTimeout ?? found.ConnectTimeout,
            ConnectAttempts = ssh.ConnectAttempts ?? found.ConnectionAttempts,
        };
    }

    /// <summary>A ProxyJump of the ssh config: <c>[user@]host[:port]</c>, the host itself looked up in the config. One hop.</summary>
    private static SshEndpoint ProxyJump(SshConfigFile config, string spec)
    {
        if (spec.Contains(',', StringComparison.Ordinal))
            throw new DeployException($"{config.Path}: ProxyJump {spec}: only one jump host is supported; name the last one, " +
                "or declare the bastion in the inventory and set ssh: jump");
        var rest = spec.StartsWith("ssh://", StringComparison.Ordinal) ? spec[6..] : spec;
        string? user = null;
        if (rest.LastIndexOf('@') is > 0 and var at)
        {
            user = rest[..at];
            rest = rest[(at + 1)..];
        }
        int? port = null;
        if (rest.LastIndexOf(':') is > 0 and var colon && !rest.StartsWith('['))
        {
            port = int.TryParse(rest[(colon + 1)..], out var number) && number is > 0 and < 65536 ? number
                : throw new DeployException($"{config.Path}: ProxyJump {spec}: '{rest[(colon + 1)..]}' is not a port");
            rest = rest[..colon];
        }
        var found = config.For(rest);
        return new SshEndpoint(found.HostName ?? rest, port ?? found.Port ?? 22, user ?? found.User ?? "root",
            found.IdentityFile is { } file ? Path.GetFullPath(file) : null)
        {
            Name = rest,
            ConnectTimeout = found.ConnectTimeout,
            ConnectAttempts = found.ConnectionAttempts,
        };
    }
}
