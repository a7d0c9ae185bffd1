using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using Deploy.Core.Model;
using Deploy.Site.Templates;
using Deploy.Site.Yaml;
using YamlDotNet.RepresentationModel;

namespace Deploy.Site.Model;

/// <summary>Where a role was assigned to a host (for error messages).</summary>
public sealed record RoleRef(string Role, string File, int Line);

/// <summary>Settings of the lab network when the inventory has lab hosts.</summary>
public sealed record LabSettings(string Network, string Subnet, string Gateway, string Image, string AptProxy)
{
    /// <summary>PID 1 of lab hosts that do not choose (<c>lab: { init: ... }</c> on a host or group).</summary>
    public string Init { get; init; } = Deploy.Core.Lab.LabInit.Sysv;
}

/// <summary>A jump host (bastion) to reach a host through.</summary>
public sealed record JumpSettings(string Address, int Port, string User, string Key);

/// <summary>One host of the inventory, with its vars merged (all &lt; groups &lt; host) and its roles.</summary>
public sealed record InventoryHost(
    string Name,
    string Address,
    bool Lab,
    string User,
    string Key,
    int Port,
    JumpSettings? Jump,
    ImmutableArray<string> Groups,
    ImmutableArray<RoleRef> Roles,
    ImmutableSortedDictionary<string, object?> Vars,
    HostFacts? Facts,
    string File,
    int Line,
    LabHostOptions? LabOptions = null)
{
    /// <summary>A lab host's PID 1: sysv or systemd.</summary>
    public string LabInit { get; init; } = Deploy.Core.Lab.LabInit.Sysv;
}

/// <summary>
/// <c>inventory/&lt;name&gt;.yaml</c>: hosts and groups (the Ansible inventory, in YAML). A group may be sized by a
/// stack setting (<c>count:</c>), its hosts named and addressed by patterns, or taken from a list of machines.
/// </summary>
public sealed record Inventory(string File, LabSettings? Lab, ImmutableArray<InventoryHost> Hosts)
{
    public static string PathFor(string projectDir, string name) => Path.Combine(projectDir, "inventory", name + ".yaml");

    /// <summary>The most hosts a counted group may have: a bigger count is a typo (or an attack), not a site.</summary>
    public const long MaxCount = 10_000;

    public static Inventory Load(string projectDir, string name, StackConfig config, TemplateEngine templates, CancellationToken ct = default)
    {
        var y = YamlFile.Load(PathFor(projectDir, name), projectDir);
        y.AllowOnly(y.Root, "the inventory", "lab", "ssh", "vars", "hosts", "groups");

        LabSettings? lab = null;
        if (y.Map(y.Root, "lab") is { } l)
        {
            y.AllowOnly(l, "lab", "network", "subnet", "gateway", "image", "aptProxy", "init");
            lab = new LabSettings(
                y.Required(l, "network", "lab"), y.Required(l, "subnet", "lab"), y.Required(l, "gateway", "lab"),
                y.Str(l, "image") ?? "nf-deploy/lab-base:bookworm",
                y.Str(l, "aptProxy") ?? $"http://{y.Required(l, "gateway", "lab")}:3142")
            { Init = LabHostSettings.Init(y, l, "the inventory") ?? Deploy.Core.Lab.LabInit.Sysv };
        }

        var sshDefaults = y.Map(y.Root, "ssh");
        var allVars = Vars(y, y.Root);

        // hosts declared by name
        var declared = new Dictionary<string, (YamlMappingNode Node, int Line)>(StringComparer.Ordinal);
        if (y.Map(y.Root, "hosts") is { } hosts)
            foreach (var (h, kn, v) in y.Entries(hosts))
            {
                CheckName(y, kn, h);
                declared[h] = (v as YamlMappingNode ?? (v is YamlScalarNode { Value: null or "" } ? new YamlMappingNode() : throw y.Error(v, $"host '{h}' must be a mapping")), YamlFile.Line(kn));
            }

        // groups, with count-sized ones expanded
        var membership = new Dictionary<string, List<(string Group, YamlMappingNode Node)>>(StringComparer.Ordinal);
        var generated = new Dictionary<string, (string Address, bool Lab, int Line, LabHostOptions? LabOptions)>(StringComparer.Ordinal);
        var groupOrder = new List<string>();
        if (y.Map(y.Root, "groups") is { } groups)
            foreach (var (g, gkn, gv) in y.Entries(groups))
            {
                if (gv is not YamlMappingNode gm) throw y.Error(gv, $"group '{g}' must be a mapping");
                y.AllowOnly(gm, $"group '{g}'", "hosts", "roles", "vars", "count", "name", "address", "lab");
                groupOrder.Add(g);
                var members = new List<string>();
                var listed = y.Seq(gm, "hosts")?.Children.Select(n => (Name: y.Scalar(n, "a host name"), Node: n)).ToList() ?? [];
                foreach (var (hn, node) in listed)
                    if (!declared.ContainsKey(hn) && y.Get(gm, "count") is null)
                        throw y.Error(node, $"group '{g}' lists host '{hn}', which is not declared under hosts:");
                if (y.Get(gm, "count") is { } countNode)
                {
                    var key = y.Scalar(countNode, "count");
                    long count;
                    if (long.TryParse(key, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var literal)) count = literal;
                    else if (!config.Values.TryGetValue(key, out var cv))
                        throw y.Error(countNode, $"group '{g}': count refers to '{key}', which is not a setting of the stack");
                    else if (cv is long lc) count = lc;
                    else throw y.Error(countNode, $"group '{g}': count setting '{key}' must be an integer, not '{cv}'");
                    if (count < 0) throw y.Error(countNode, $"group '{g}': count ({key}) is {count}; it must be 0 or more");
                    if (count > MaxCount) throw y.Error(countNode, $"group '{g}': count ({key}) is {count}; a group may have at most {MaxCount} hosts");
                    if (listed.Count > 0)
                    {
                        if (count > listed.Count)
                            throw y.Error(countNode, $"group '{g}': {key} is {count} but the group lists only {listed.Count} machines ({string.Join(", ", listed.Select(x => x.Name))}); add machines or lower {key}");
                        foreach (var (hn, node) in listed.Take((int)count))
                        {
                            if (!declared.ContainsKey(hn)) throw y.Error(node, $"group '{g}' lists host '{hn}', which is not declared under hosts:");
                            members.Add(hn);
                        }
                    }
                    else
                    {
                        var namePattern = y.Str(gm, "name") ?? throw y.Error(gm, $"group '{g}': a counted group needs 'name:' (e.g. \"{g}-{{{{ i }}}}\") or a 'hosts:' list");
                        var addrPattern = y.Str(gm, "address") ?? throw y.Error(gm, $"group '{g}': a counted group needs 'address:' (e.g. \"10.211.0.{{{{ 20 + i }}}}\")");
                        var isLab = LabHostSettings.Read(y, gm, $"group '{g}'").Lab == true;
                        var labOptions = isLab ? LabHostOptions.Parse(y, gm) ?? LabHostOptions.None : null;
                        for (var i = 1; i <= count; i++)
                        {
                            ct.ThrowIfCancellationRequested();
                            var scope = new Scriban.Runtime.ScriptObject { ["i"] = (long)i, ["config"] = TemplateEngine.ToScript(config.Values) };
                            var hn = templates.RenderInline(namePattern, scope, y.DisplayPath, YamlFile.Line(y.Get(gm, "name")!), null).Trim();
                            var addr = templates.RenderInline(addrPattern, scope, y.DisplayPath, YamlFile.Line(y.Get(gm, "address")!), null).Trim();
                            CheckName(y, y.Get(gm, "name")!, hn);
                            if (declared.ContainsKey(hn) || generated.ContainsKey(hn))
                                throw y.Error(y.Get(gm, "name"), $"group '{g}': generated host name '{hn}' is already used");
                            generated[hn] = (addr, isLab, YamlFile.Line(gkn), labOptions);
                            members.Add(hn);
                        }
                    }
                }
                else members.AddRange(listed.Select(x => x.Name));
                foreach (var m in members)
                {
                    if (!membership.TryGetValue(m, out var list)) membership[m] = list = [];
                    list.Add((g, gm));
                }
            }

        var result = new List<InventoryHost>();
        var names = declared.Keys.Concat(generated.Keys).ToList();
        var addresses = new Dictionary<string, string>();
        foreach (var h in names)
        {
            var isGenerated = generated.TryGetValue(h, out var gen);
            var node = isGenerated ? new YamlMappingNode() : declared[h].Node;
            var line = isGenerated ? gen.Line : declared[h].Line;
            if (!isGenerated) y.AllowOnly(node, $"host '{h}'", "address", "lab", "ssh", "vars", "roles", "facts");
            var groupsOf = membership.GetValueOrDefault(h) ?? [];

            // vars: all < groups (must agree with each other) < host
            var vars = new Dictionary<string, object?>(allVars, StringComparer.Ordinal);
            var fromGroup = new Dictionary<string, (string Group, object? Value, YamlNode Node)>(StringComparer.Ordinal);
            var hostVars = Vars(y, node);
            foreach (var (g, gm) in groupsOf)
            {
                if (y.Map(gm, "vars") is not { } gvars) continue;
                foreach (var (k, kn, v) in y.Entries(gvars))
                {
                    var value = y.Data(v);
                    if (fromGroup.TryGetValue(k, out var prev) && !hostVars.ContainsKey(k) && Json(prev.Value) != Json(value))
                        throw y.Error(kn, $"host '{h}' is in groups '{prev.Group}' (line {YamlFile.Line(prev.Node)}) and '{g}', which set '{k}' differently " +
                            $"({Json(prev.Value)} vs {Json(value)}); set '{k}' on the host to choose");
                    fromGroup[k] = (g, value, kn);
                    vars[k] = value;
                }
            }
            foreach (var (k, v) in hostVars) vars[k] = v;

            var roles = new List<RoleRef>();
            foreach (var (g, gm) in groupsOf)
                foreach (var rn in y.Seq(gm, "roles")?.Children ?? [])
                    roles.Add(new RoleRef(y.Scalar(rn, "a role name"), y.DisplayPath, YamlFile.Line(rn)));
            foreach (var rn in y.Seq(node, "roles")?.Children ?? [])
                roles.Add(new RoleRef(y.Scalar(rn, "a role name"), y.DisplayPath, YamlFile.Line(rn)));

            var ssh = y.Map(node, "ssh");
            string Ssh(string key, string fallback) =>
                (ssh is not null ? y.Str(ssh, key) : null) ?? (sshDefaults is not null ? y.Str(sshDefaults, key) : null) ?? fallback;
            var address = isGenerated ? gen.Address : y.Str(node, "address") ?? throw y.Error(node, $"host '{h}': 'address' is required");
            if (!int.TryParse(Ssh("port", "22"), out var port)) throw y.Error(ssh ?? sshDefaults, "ssh port must be a number");
            // one address may front several hosts on distinct SSH ports (port forwarding; bench/sim's many sshd)
            if (addresses.TryGetValue($"{address} {port}", out var other))
                throw y.Error(isGenerated ? null : y.Get(node, "address"), $"hosts '{other}' and '{h}' have the same address {address}" +
                    (port == 22 ? "" : $" and ssh port {port}"));
            addresses[$"{address} {port}"] = h;
            var hostLab = isGenerated ? (null, null) : LabHostSettings.Read(y, node, $"host '{h}'");
            var isLab = isGenerated ? gen.Lab : hostLab.Lab == true;
            // init: the host's, else its first group's that says, else the lab section's
            var labInit = hostLab.Init
                ?? groupsOf.Select(x => LabHostSettings.Read(y, x.Node, $"group '{x.Group}'").Init).FirstOrDefault(i => i is not null)
                ?? lab?.Init ?? Deploy.Core.Lab.LabInit.Sysv;
            var labOptions = isGenerated ? gen.LabOptions : isLab ? LabHostOptions.Parse(y, node) ?? LabHostOptions.None : null;
            if (isLab && lab is null) throw y.Error(node, $"host '{h}' is a lab host but the inventory has no 'lab:' section (network, subnet, gateway)");
            JumpSettings? jump = null;
            var jumpName = (ssh is not null ? y.Str(ssh, "jump") : null) ?? (sshDefaults is not null ? y.Str(sshDefaults, "jump") : null);
            if (jumpName is not null)
            {
                if (!declared.TryGetValue(jumpName, out var jn))
                    throw y.Error(ssh ?? sshDefaults, $"host '{h}': jump host '{jumpName}' is not declared under hosts:");
                if (jumpName != h)
                {
                    var js = y.Map(jn.Node, "ssh");
                    string J(string key, string fallback) =>
                        (js is not null ? y.Str(js, key) : null) ?? (sshDefaults is not null ? y.Str(sshDefaults, key) : null) ?? fallback;
                    jump = new JumpSettings(y.Str(jn.Node, "address") ?? throw y.Error(jn.Node, $"host '{jumpName}': 'address' is required"),
                        int.Parse(J("port", "22"), CultureInfo.InvariantCulture), J("user", "root"), J("key", "~/.ssh/id_ed25519"));
                }
            }
            result.Add(new InventoryHost(h, address, isLab, Ssh("user", "root"), Ssh("key", "~/.ssh/id_ed25519"), port, jump,
                [.. groupsOf.Select(x => x.Group)], [.. roles], vars.ToImmutableSortedDictionary(StringComparer.Ordinal),
                DeclaredFacts(y, node, h, address), y.DisplayPath, line, labOptions)
            { LabInit = labInit });
        }
        return new Inventory(y.DisplayPath, lab, [.. result]);
    }

    private static void CheckName(YamlFile y, YamlNode node, string name)
    {
        if (name.Length == 0 || name.Length > 63 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c == '-') || name.StartsWith('-'))
            throw y.Error(node, $"'{name}' is not a valid host name (letters, digits and '-', at most 63)");
    }

    private static Dictionary<string, object?> Vars(YamlFile y, YamlMappingNode node) =>
        y.Map(node, "vars") is { } v
            ? y.Entries(v).ToDictionary(e => e.Key, e => y.Data(e.Value), StringComparer.Ordinal)
            : new Dictionary<string, object?>(StringComparer.Ordinal);

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
