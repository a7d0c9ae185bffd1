using Deploy.Core.Resources;
using Deploy.Site.Yaml;
using YamlDotNet.RepresentationModel;

namespace Deploy.Site.Model;

/// <summary>
/// The inventory vars that let nf-deploy name a host (a brownfield host keeps its own name unless told):
/// <c>manage_hostname: true</c> (on all, a group or a host; off by default) sets the host's name to the inventory
/// name, or to <c>hostname:</c> when given (an FQDN such as <c>sip1.example.net</c>: inventory names cannot hold dots).
/// Both are checked where they are written.
/// </summary>
public static class HostnameVars
{
    public const string Manage = "manage_hostname";
    public const string Name = "hostname";

    /// <summary>Refuses a bad value of either var with its file:line.</summary>
    public static void Check(YamlFile y, string key, YamlNode value)
    {
        if (key == Manage && y.Data(value) is not bool)
            throw y.Error(value, $"'{Manage}' must be true or false");
        if (key != Name) return;
        if (y.Data(value) is not string name) throw y.Error(value, $"'{Name}' must be a host name (a string)");
        if (Shapes.HostName(name) is { } problem) throw y.Error(value, problem);
    }

    /// <summary>The name nf-deploy gives the host, or null when it leaves the host's name alone.</summary>
    public static string? Wanted(InventoryHost host) =>
        host.Vars.GetValueOrDefault(Manage) is true ? host.Vars.GetValueOrDefault(Name) as string ?? host.Name : null;
}
