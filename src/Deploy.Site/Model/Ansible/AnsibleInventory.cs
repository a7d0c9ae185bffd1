using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Site.Yaml;

namespace Deploy.Site.Model.Ansible;

/// <summary>A jump host from <c>ProxyJump</c>: a host of the inventory by name, or an address.</summary>
public sealed record AnsibleJump(string Host, int? Port, string? User, string File, int Line);

/// <summary>A host of an Ansible inventory as nf-deploy takes it: its name, how to reach it, its groups (with their
/// parents) and its vars merged with Ansible's precedence, <c>ansible_*</c> connection vars taken out.</summary>
public sealed record AnsibleHost(
    string Name, string Address, int? Port, string? User, string? Key, AnsibleJump? Jump, ImmutableArray<string> Groups,
    ImmutableSortedDictionary<string, object?> Vars, ImmutableArray<VarSite> VarSites, string File, int Line);

/// <summary>
/// An existing Ansible inventory (INI or YAML, with <c>group_vars/</c> and <c>host_vars/</c> beside it) read as the
/// hosts and groups of a site. Vars merge as Ansible merges them: the file's <c>all</c> vars &lt; its group vars (parents
/// before children, then <c>ansible_group_priority</c>, then name) &lt; <c>group_vars/all</c> &lt; <c>group_vars/&lt;group&gt;</c>
/// &lt; the file's host vars &lt; <c>host_vars/&lt;host&gt;</c>. Nothing in it is run: no inventory script or plugin, no
/// Jinja, no Vault.
/// </summary>
public sealed record AnsibleInventory(string File, ImmutableArray<AnsibleHost> Hosts, ImmutableArray<string> GroupOrder,
    ImmutableArray<string> Files, ImmutableArray<SiteWarning> Warnings)
{
    /// <param name="from">The inventory file that names it, and the line (for errors about the path).</param>
    public static AnsibleInventory Load(string projectDir, string path, string from, int line, CancellationToken ct)
    {
        var full = Deploy.Core.Paths.ContainedPath.Resolve(projectDir, path)
            ?? throw new SiteException(from, line, $"ansible inventory '{SiteNames.Printable(path)}' is outside the project");
        if (Directory.Exists(full))
            throw new SiteException(from, line, $"ansible inventory '{path}' is a folder: name the inventory file in it (hosts, hosts.yml...)");
        if (!System.IO.File.Exists(full)) throw new SiteException(from, line, $"ansible inventory '{path}' not found");
        var display = Path.GetRelativePath(projectDir, full);
        var text = YamlLimits.ReadFile(full, display);
        if (text.StartsWith("#!", StringComparison.Ordinal))
            throw new SiteException(display, 1, "an inventory script is not run by nf-deploy; " + AnsibleYaml.ExportOnce);
        if (text.StartsWith("$ANSIBLE_VAULT;", StringComparison.Ordinal))
            throw new SiteException(display, 1, "an Ansible Vault file, which nf-deploy does not open");
        var source = IsYaml(full, text) ? AnsibleYaml.Parse(YamlFile.Load(full, projectDir)) : AnsibleIni.Parse(text, display);
        var files = new List<string> { display };
        var folder = Path.GetDirectoryName(full)!;
        var groupFiles = source.Groups.Keys.ToDictionary(g => g,
            g => AnsibleYaml.VarsFiles(projectDir, Path.Combine(folder, "group_vars"), g, files, ct), StringComparer.Ordinal);
        var parents = Parents(source, display);
        var depth = Depths(source, parents);
        var warnings = new List<SiteWarning>();
        var hosts = new List<AnsibleHost>();
        var names = new Dictionary<string, AnsibleHostSource>(StringComparer.Ordinal);
        foreach (var host in source.Hosts.Values)
        {
            ct.ThrowIfCancellationRequested();
            var groups = Ancestors(source, parents, host.Entry);
            var ordered = groups.Where(g => g != "all")
                .OrderBy(g => depth[g]).ThenBy(g => Priority(source.Groups[g], groupFiles[g])).ThenBy(g => g, StringComparer.Ordinal).ToList();
            var vars = new Dictionary<string, AnsibleVar>(source.Groups["all"].Vars, StringComparer.Ordinal);
            foreach (var g in ordered) Overlay(vars, source.Groups[g].Vars);
            Overlay(vars, groupFiles["all"]);
            foreach (var g in ordered) Overlay(vars, groupFiles[g]);
            Overlay(vars, host.Vars);
            var (entry, entryPort) = SplitPort(host.Entry);
            Overlay(vars, AnsibleYaml.VarsFiles(projectDir, Path.Combine(folder, "host_vars"), entry, files, ct));
            var reach = AnsibleConnection.Read(host, entry, entryPort, vars, warnings);
            if (reach is null) continue;
            var name = AnsibleConnection.Name(entry, host.File, host.Line);
            if (names.TryGetValue(name, out var other))
                throw new SiteException(host.File, host.Line, $"hosts '{other.Entry}' (line {other.Line}) and '{host.Entry}' are both named '{name}' " +
                    "in nf-deploy: give one an alias (alias ansible_host=...)");
            names[name] = host;
            var own = vars.Where(v => !v.Key.StartsWith("ansible_", StringComparison.Ordinal)).ToList();
            hosts.Add(new AnsibleHost(name, reach.Address, reach.Port, reach.User, reach.Key, reach.Jump,
                [.. source.Groups.Keys.Where(g => g is not ("all" or "ungrouped") && groups.Contains(g))],
                own.ToImmutableSortedDictionary(v => v.Key, v => v.Value.Value, StringComparer.Ordinal),
                [.. own.Select(v => new VarSite(v.Key, v.Value.File, v.Value.Line))], host.File, host.Line));
        }
        return new AnsibleInventory(display, [.. hosts], [.. source.Groups.Keys.Where(g => g is not ("all" or "ungrouped"))],
            [.. files.Distinct()], [.. warnings.Distinct()]);
    }

    /// <summary>Ansible's YAML plugin takes .yml, .yaml, .json and files without an extension that read as YAML; the rest is INI.</summary>
    private static bool IsYaml(string path, string text)
    {
        var ext = Path.GetExtension(path);
        if (ext is ".yml" or ".yaml" or ".json") return true;
        if (ext.Length > 0) return false;
        var first = text.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0 && l[0] is not ('#' or ';'));
        return first is not null && first[0] != '['
            && (first.EndsWith(':') || first.StartsWith('{') || first.StartsWith("---", StringComparison.Ordinal));
    }

    private static void Overlay(Dictionary<string, AnsibleVar> into, Dictionary<string, AnsibleVar> layer)
    {
        foreach (var (k, v) in layer) into[k] = v;
    }

    private static long Priority(AnsibleGroupSource group, Dictionary<string, AnsibleVar> files) =>
        (files.GetValueOrDefault("ansible_group_priority") ?? group.Vars.GetValueOrDefault("ansible_group_priority"))?.Value is long p ? p : 1;

    /// <summary>Each group's parents; top-level groups are children of <c>all</c>. A child that is its own ancestor is refused.</summary>
    private static Dictionary<string, List<string>> Parents(AnsibleSource source, string file)
    {
        var parents = source.Groups.Keys.ToDictionary(g => g, _ => new List<string>(), StringComparer.Ordinal);
        foreach (var group in source.Groups.Values)
            foreach (var child in group.Children)
                if (!parents[child].Contains(group.Name)) parents[child].Add(group.Name);
        foreach (var group in source.Groups.Keys.Where(g => g != "all" && parents[g].Count == 0)) parents[group].Add("all");
        foreach (var group in source.Groups.Values)
            if (Up(parents, group.Name).Contains(group.Name))
                throw new SiteException(group.File, group.Line, $"group '{group.Name}' is its own child (through its children:)");
        return parents;
    }

    private static HashSet<string> Up(Dictionary<string, List<string>> parents, string group)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var queue = new Queue<string>(parents[group]);
        while (queue.TryDequeue(out var g))
            if (seen.Add(g))
                foreach (var p in parents[g]) queue.Enqueue(p);
        return seen;
    }

    /// <summary>A group's depth as Ansible counts it: its longest way down from <c>all</c>.</summary>
    private static Dictionary<string, int> Depths(AnsibleSource source, Dictionary<string, List<string>> parents)
    {
        var depth = new Dictionary<string, int>(StringComparer.Ordinal);
        int Of(string g) => depth.TryGetValue(g, out var d) ? d : depth[g] = g == "all" ? 0 : parents[g].Max(Of) + 1;
        foreach (var g in source.Groups.Keys) Of(g);
        return depth;
    }

    /// <summary>The groups a host is in: those that list it and every group above them (<c>all</c> included).</summary>
    private static HashSet<string> Ancestors(AnsibleSource source, Dictionary<string, List<string>> parents, string entry)
    {
        var direct = source.Groups.Values.Where(g => g.Hosts.Contains(entry)).Select(g => g.Name).ToList();
        var all = new HashSet<string>(direct, StringComparer.Ordinal) { "all" };
        foreach (var g in direct) all.UnionWith(Up(parents, g));
        return all;
    }

    /// <summary><c>host:2222</c> → the host and its port (an IPv6 address, with more colons, has none).</summary>
    private static (string Entry, int? Port) SplitPort(string entry)
    {
        var colon = entry.IndexOf(':');
        return colon > 0 && colon == entry.LastIndexOf(':') && int.TryParse(entry[(colon + 1)..], out var port)
            ? (entry[..colon], port)
            : (entry, null);
    }
}
