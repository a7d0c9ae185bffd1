using System.Collections.Immutable;
using System.Text.Json;
using Deploy.Core.Model;
using Deploy.Site.Yaml;
using YamlDotNet.RepresentationModel;

namespace Deploy.Site.Model;

public sealed partial record Inventory
{
    /// <summary>Where each var of a <c>vars:</c> block was set, for warnings about vars no NF declares.</summary>
    public static ImmutableArray<VarSite> VarSitesOf(YamlFile y, YamlMappingNode node) =>
        y.Map(node, "vars") is { } v ? [.. y.Entries(v).Select(e => new VarSite(e.Key, y.DisplayPath, YamlFile.Line(e.KeyNode)))] : [];

    /// <summary>An SSH setting (user, key, port) of an Ansible inventory's host, or null.</summary>
    /// <summary>An imported Ansible host's connection vars as <c>ssh:</c> settings (none for a host of our own).</summary>
    private static SshSettings AnsibleSettings(Ansible.AnsibleHost? host) =>
        host is null ? SshSettings.None : new SshSettings(host.User, host.Key, host.Port);

    private static void CheckName(YamlFile y, YamlNode node, string name)
    {
        if (name.Length == 0 || name.Length > 63 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c == '-') || name.StartsWith('-'))
            throw y.Error(node, $"'{name}' is not a valid host name (letters, digits and '-', at most 63)");
    }

    private static Dictionary<string, object?> Vars(YamlFile y, YamlMappingNode node)
    {
        var vars = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (y.Map(node, "vars") is not { } v) return vars;
        foreach (var (key, _, value) in y.Entries(v))
        {
            HostnameVars.Check(y, key, value);
            vars[key] = y.Data(value);
        }
        return vars;
    }

    private static string Json(object? v) => JsonSerializer.Serialize(v);

    /// <summary>Facts declared for a real host, for rendering without contacting it.</summary>
    private static HostFacts? DeclaredFacts(YamlFile y, YamlMappingNode node, string host, string address)
    {
        if (y.Map(node, "facts") is not { } f) return null;
        y.AllowOnly(f, $"facts of '{host}'", "codename", "init", "interfaces", "default_interface");
        var ifaces = new List<NetInterface> { new("lo", ["127.0.0.1"], ["::1"]) };
        if (y.Map(f, "interfaces") is { } im)
            foreach (var (name, _, v) in y.Entries(im))
                ifaces.Add(new NetInterface(name,
                    v is YamlSequenceNode s ? [.. s.Children.Select(c => y.Scalar(c, "an address"))] : [y.Scalar(v, "an address")], []));
        var def = y.Str(f, "default_interface") ?? ifaces.Skip(1).FirstOrDefault()?.Name ?? "eth0";
        if (ifaces.Count == 1) ifaces.Add(new NetInterface(def, [address], []));
        var defIp = ifaces.FirstOrDefault(i => i.Name == def)?.IPv4.FirstOrDefault() ?? address;
        return new HostFacts(host, y.Str(f, "codename") ?? "bookworm", y.Str(f, "init") ?? "systemd", "amd64", def, defIp,
            [.. ifaces], ImmutableSortedDictionary<string, string>.Empty);
    }
}
