using Deploy.Core.Model;
using Deploy.Site.Model;
using Deploy.Site.Templates;
using Scriban;
using Scriban.Parsing;
using Scriban.Runtime;

namespace Deploy.Site.Compile;

/// <summary>The template scope an NF is rendered in: host objects from facts, instances, groups, and the template functions.</summary>
public sealed partial class SiteProgram
{
    private ScriptObject Scope(InventoryHost h, Dictionary<string, ScriptObject> hostObjs, ScriptObject configObj, NfPlacement p,
        ScriptObject nfObj)
    {
        var me = hostObjs[h.Name];
        var scope = new ScriptObject
        {
            ["host"] = me,
            ["config"] = configObj,
            ["vars"] = TemplateEngine.FromDictionary(p.Vars),
            ["nf"] = nfObj,
            ["instance"] = p.Instance is null ? null : Instance(p),
            ["hosts"] = new ScriptArray(Managed.Select(x => hostObjs[x.Name])),
            // the one way to reach a group's hosts: groups.<name>, or groups[vars.x] (nf_group is refused, RetiredNames)
            ["groups"] = Groups(hostObjs),
            ["site"] = new ScriptObject { ["stack"] = Stack, ["project"] = Project.Name },
        };
        scope.Import("ipv4", new Func<string?, string>(iface => Ipv4(h.Name, me, iface)));
        scope.Import("ip_network", new Func<string, string>(NetFunctions.IpNetwork));
        scope.Import("tls_ca", new Func<string>(() => _certificates.Value.CaPem));
        // the deployer's own TLS identity, as the NF names it (identity: deployer:), for health checks that speak TLS
        scope.Import("deployer_tls", new Func<ScriptObject>(() => DeployerTls(p)));
        scope.Import("tls_cert", new Func<string>(() => Certificate(h, me).CertPem));
        scope.Import("tls_key", new Func<string>(() => Certificate(h, me).KeyPem));
        // the hosts that run an NF (not a group: the NF's own peers, whatever the inventory calls their group)
        scope.Import("nf_hosts", new Func<string, ScriptArray>(name =>
            new ScriptArray(Managed.Where(x => Placements[x.Name].Any(pl => pl.Nf.Name == name)).Select(x => hostObjs[x.Name]))));
        return scope;
    }

    private static ScriptObject Instance(NfPlacement p)
    {
        var o = TemplateEngine.FromDictionary(p.InstanceVars);
        o["name"] = p.Instance;
        return o;
    }

    /// <summary><c>groups.&lt;name&gt;</c>: the managed hosts of each inventory group, in inventory order.</summary>
    private ScriptObject Groups(Dictionary<string, ScriptObject> hostObjs)
    {
        var groups = new GroupHosts();
        foreach (var g in Managed.SelectMany(h => h.Groups).Distinct())
            groups[g] = new ScriptArray(Managed.Where(h => h.Groups.Contains(g)).Select(h => hostObjs[h.Name]));
        return groups;
    }

    /// <summary>A group no managed host is in (none declared, or emptied by a count of 0) has no hosts: it is empty, so that
    /// <c>groups[vars.peer_group]</c> can be checked and iterated like any other.</summary>
    private sealed class GroupHosts : ScriptObject
    {
        public override bool TryGetValue(TemplateContext? context, SourceSpan span, string member, out object? value)
        {
            if (base.TryGetValue(context, span, member, out value)) return true;
            value = new ScriptArray();
            return true;
        }
    }

    /// <summary>The first IPv4 of an interface (telecom hosts are multi-homed), or of the default-route interface.</summary>
    private static string Ipv4(string host, ScriptObject me, string? iface)
    {
        if (string.IsNullOrEmpty(iface))
            return me["default_ipv4"] as string is { Length: > 0 } d ? d
                : throw new TemplateFunctionException($"host {host} has no default IPv4 address");
        var ifaces = (ScriptObject)me["interfaces"]!;
        if (ifaces[iface] is ScriptObject i && i["ipv4"] is ScriptArray { Count: > 0 } a) return (string)a[0]!;
        throw new TemplateFunctionException(
            $"host {host} has no IPv4 address on interface '{iface}' (interfaces: {string.Join(", ", ifaces.Keys)})");
    }

    /// <summary>A host as templates see it (<c>host.*</c>); its <c>identity</c> is set by <see cref="DeclareIdentities"/>.</summary>
    private static ScriptObject HostObject(InventoryHost h, HostFacts f)
    {
        var ifaces = new ScriptObject();
        foreach (var i in f.Interfaces)
            ifaces[i.Name] = new ScriptObject
            {
                ["ipv4"] = new ScriptArray(i.IPv4), ["ipv6"] = new ScriptArray(i.IPv6), ["tunnel"] = i.Tunnel,
            };
        var tls = "/etc/nf-deploy/tls";
        return new ScriptObject
        {
            ["name"] = h.Name,
            ["address"] = h.Address,
            ["lab"] = h.Lab,
            ["groups"] = new ScriptArray(h.Groups),
            ["roles"] = new ScriptArray(h.Roles.Select(r => r.Role).Distinct()),
            ["vars"] = TemplateEngine.FromDictionary(h.Vars),
            ["hostname"] = f.Hostname,
            ["codename"] = f.Codename,
            ["init"] = f.InitSystem,
            ["arch"] = f.Arch,
            ["default_interface"] = f.DefaultInterface,
            ["default_ipv4"] = f.DefaultIPv4,
            ["interfaces"] = ifaces,
            ["identity"] = h.Name,
            ["tls"] = new ScriptObject
            {
                ["dir"] = tls,
                ["cert"] = $"{tls}/{h.Name}.cert.pem",
                ["key"] = $"{tls}/{h.Name}.key.pem",
                ["ca"] = $"{tls}/ca.cert.pem",
            },
            ["nf"] = new ScriptObject(),
        };
    }
}
