using Deploy.Core.Model;
using Deploy.Site.Yaml;
using YamlDotNet.RepresentationModel;

namespace Deploy.Site.Model.Ansible;

/// <summary>
/// Ansible's YAML inventory: groups at the top (<c>all:</c> usually), each with <c>hosts:</c> (a host → its vars),
/// <c>vars:</c> and <c>children:</c> (groups in it). Also the vars files of <c>group_vars/</c> and <c>host_vars/</c>.
/// </summary>
public static class AnsibleYaml
{
    /// <summary>What to do with an inventory that is a program (a script, a plugin): its hosts, exported once.</summary>
    public const string ExportOnce = "export its hosts once: ansible-inventory -i <it> --list --yaml > hosts.yml";

    public static AnsibleSource Parse(YamlFile y)
    {
        if (y.Get(y.Root, "plugin") is { } plugin)
            throw y.Error(plugin, "an inventory plugin is not run by nf-deploy; " + ExportOnce);
        var source = new AnsibleSource();
        source.Group("all", y.DisplayPath, 0);
        foreach (var (name, keyNode, node) in y.Entries(y.Root))
        {
            Walk(y, source, name, keyNode, node, depth: 0);
            if (name != "all" && !source.Groups["all"].Children.Contains(name)) source.Groups["all"].Children.Add(name);
        }
        return source;
    }

    private static void Walk(YamlFile y, AnsibleSource source, string name, YamlNode keyNode, YamlNode node, int depth)
    {
        if (depth > 32) throw y.Error(keyNode, "groups are nested more than 32 deep");
        var group = source.Group(name, y.DisplayPath, YamlFile.Line(keyNode));
        if (node is YamlScalarNode { Value: null or "" or "~" }) return;
        if (node is not YamlMappingNode map) throw y.Error(node, $"group '{name}' must be a mapping (hosts, vars, children)");
        y.AllowOnly(map, $"group '{name}'", "hosts", "vars", "children");
        if (y.Map(map, "hosts") is { } hosts)
            foreach (var (entry, hostKey, vars) in y.Entries(hosts))
                foreach (var expanded in AnsibleSource.Expand(entry, y.DisplayPath, YamlFile.Line(hostKey)))
                {
                    var host = source.Host(expanded, y.DisplayPath, YamlFile.Line(hostKey));
                    if (!group.Hosts.Contains(expanded)) group.Hosts.Add(expanded);
                    if (vars is YamlScalarNode { Value: null or "" or "~" }) continue;
                    if (vars is not YamlMappingNode hostVars) throw y.Error(vars, $"host '{entry}' must map to its vars (or nothing)");
                    Read(y, hostVars, host.Vars);
                }
        if (y.Map(map, "vars") is { } groupVars) Read(y, groupVars, group.Vars);
        if (y.Map(map, "children") is { } children)
            foreach (var (child, childKey, childNode) in y.Entries(children))
            {
                Walk(y, source, child, childKey, childNode, depth + 1);
                if (!group.Children.Contains(child)) group.Children.Add(child);
            }
    }

    /// <summary>The vars of a mapping, each with its line; an Ansible Vault value is refused (its secret stays in the vault).</summary>
    public static void Read(YamlFile y, YamlMappingNode map, Dictionary<string, AnsibleVar> into)
    {
        foreach (var (key, keyNode, value) in y.Entries(map))
        {
            var vaultTag = value.Tag is { IsEmpty: false, IsNonSpecific: false } && value.Tag.Value == "!vault";
            if (vaultTag || value is YamlScalarNode { Value: { } v } && v.StartsWith("$ANSIBLE_VAULT;", StringComparison.Ordinal))
                throw y.Error(keyNode, $"var '{key}' is an Ansible Vault value, which nf-deploy does not open: keep it in the stack as a secret " +
                    "(./deploy config set <key> --secret) and name it from there");
            into[key] = new AnsibleVar(y.Data(value), y.DisplayPath, YamlFile.Line(keyNode));
        }
    }

    /// <summary>The vars of <c>group_vars/&lt;name&gt;</c> or <c>host_vars/&lt;name&gt;</c> beside the inventory: a file
    /// (<c>name</c>, <c>name.yml</c>, <c>name.yaml</c>, <c>name.json</c>) or a folder of them (read in name order).</summary>
    public static Dictionary<string, AnsibleVar> VarsFiles(string projectDir, string folder, string name, List<string> read, CancellationToken ct)
    {
        var vars = new Dictionary<string, AnsibleVar>(StringComparer.Ordinal);
        if (!Directory.Exists(folder)) return vars;
        var files = new List<string>();
        foreach (var candidate in new[] { "", ".yml", ".yaml", ".json" }.Select(ext => Path.Combine(folder, name + ext)))
            if (File.Exists(candidate)) files.Add(candidate);
        var dir = Path.Combine(folder, name);
        if (Directory.Exists(dir))
            files.AddRange(Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
                .Where(f => !Path.GetFileName(f).StartsWith('.') && Path.GetExtension(f) is "" or ".yml" or ".yaml" or ".json")
                .Order(StringComparer.Ordinal));
        foreach (var file in files)
        {
            ct.ThrowIfCancellationRequested();
            var display = Path.GetRelativePath(projectDir, file);
            if (Deploy.Core.Paths.ContainedPath.Resolve(projectDir, file) is null)
                throw new SiteException(display, 0, "the file is a link that leads outside the project: refused");
            if (File.ReadLines(file).FirstOrDefault()?.StartsWith("$ANSIBLE_VAULT;", StringComparison.Ordinal) == true)
                throw new SiteException(display, 1,
                    "an Ansible Vault file, which nf-deploy does not open: keep its secrets in the stack (./deploy config set <key> --secret)");
            var y = YamlFile.Load(file, projectDir);
            Read(y, y.Root, vars);
            read.Add(y.DisplayPath);
        }
        return vars;
    }
}
