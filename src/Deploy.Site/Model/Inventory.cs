using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using Deploy.Core.Model;
using Deploy.Site.Model.Ansible;
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
public sealed record JumpSettings(string Address, int Port, string User, string Key)
{
    /// <summary>Its inventory name (or its ~/.ssh/config alias), for messages.</summary>
    public string? Name { get; init; }

    /// <summary>Its <c>ssh:</c> keys as written (null where unset).</summary>
    public SshSettings Ssh { get; init; } = SshSettings.None;
}

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

    /// <summary>Its <c>ssh:</c> keys as written (the host's over the inventory's), null where unset: ~/.ssh/config may fill those.</summary>
    public SshSettings Ssh { get; init; } = SshSettings.None;
}

/// <summary>
/// <c>inventory/&lt;name&gt;.yaml</c>: hosts and groups (the Ansible inventory, in YAML). A group may be sized by a
/// stack setting (<c>count:</c>), its hosts named and addressed by patterns, or taken from a list of machines.
/// </summary>
public sealed partial record Inventory(string File, LabSettings? Lab, ImmutableArray<InventoryHost> Hosts)
{
    /// <summary>The key of a host whose inventory names none (lab hosts; real hosts also look in ~/.ssh/config and the agent).</summary>
    public const string DefaultKey = "~/.ssh/id_ed25519";

    /// <summary>Where every var of the inventory was set (an imported Ansible inventory's included).</summary>
    public ImmutableArray<VarSite> VarSites { get; init; } = [];

    /// <summary>The files of an imported Ansible inventory (its file, group_vars/, host_vars/).</summary>
    public ImmutableHashSet<string> Imported { get; init; } = [];

    /// <summary>What the inventory holds that is most likely a mistake (an Ansible option nf-deploy does not use...).</summary>
    public ImmutableArray<SiteWarning> Warnings { get; init; } = [];

    public static string PathFor(string projectDir, string name) => Path.Combine(projectDir, "inventory", name + ".yaml");

    /// <summary>The most hosts a counted group may have: a bigger count is a typo (or an attack), not a site.</summary>
    public const long MaxCount = 10_000;

    public static Inventory Load(string projectDir, string name, StackConfig config, TemplateEngine templates, CancellationToken ct = default)
    {
        var y = YamlFile.Load(PathFor(projectDir, name), projectDir);
        y.AllowOnly(y.Root, "the inventory", "lab", "ssh", "vars", "hosts", "groups", "ansible");

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

        var sshDefaults = SshSettings.Parse(y, y.Map(y.Root, "ssh"), "the inventory");
        var allVars = Vars(y, y.Root);
        var sites = new List<VarSite>(VarSitesOf(y, y.Root));
        // an existing Ansible inventory (INI or YAML, group_vars/ and host_vars/ beside it): its hosts and groups are the site's
        var ansible = y.Get(y.Root, "ansible") is { } an
            ? AnsibleInventory.Load(projectDir, y.Scalar(an, "ansible"), y.DisplayPath, YamlFile.Line(an), ct)
            : null;
        var imported = (ansible?.Hosts ?? []).ToDictionary(h => h.Name, StringComparer.Ordinal);
        List<(string Name, YamlNode Node)> AnsibleMembers(string group, YamlNode at) =>
            [.. ansible?.Hosts.Where(h => h.Groups.Contains(group)).Select(h => (h.Name, at)) ?? []];

        // hosts declared by name
        var declared = new Dictionary<string, (YamlMappingNode Node, int Line)>(StringComparer.Ordinal);
        if (y.Map(y.Root, "hosts") is { } hosts)
            foreach (var (h, kn, v) in y.Entries(hosts))
            {
                CheckName(y, kn, h);
                sites.AddRange(v is YamlMappingNode hv ? VarSitesOf(y, hv) : []);
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
                sites.AddRange(VarSitesOf(y, gm));
                var members = new List<string>();
                var listed = y.Seq(gm, "hosts")?.Children.Select(n => (Name: y.Scalar(n, "a host name"), Node: n)).ToList() ?? [];
                // a group of the Ansible inventory: its hosts are the group's (with those listed here)
                foreach (var member in AnsibleMembers(g, gkn).Where(m => !listed.Any(l => l.Name == m.Name))) listed.Add(member);
                foreach (var (hn, node) in listed)
                    if (!declared.ContainsKey(hn) && !imported.ContainsKey(hn) && y.Get(gm, "count") is null)
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
                        {
                            var fix = config.Values.ContainsKey(key) ? $" (./deploy config set {key} {listed.Count} --stack {config.Stack})" : "";
                            throw y.Error(countNode, $"group '{g}': {key} is {count} but the group lists only {listed.Count} machines " +
                                $"({string.Join(", ", listed.Select(x => x.Name))}); add machines or lower {key}{fix}");
                        }
                        foreach (var (hn, node) in listed.Take((int)count))
                        {
                            if (!declared.ContainsKey(hn) && !imported.ContainsKey(hn))
                                throw y.Error(node, $"group '{g}' lists host '{hn}', which is not declared under hosts:");
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
                            if (declared.ContainsKey(hn) || generated.ContainsKey(hn) || imported.ContainsKey(hn))
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

        // the Ansible inventory's other groups: no roles or vars of nf-deploy, but templates see them (groups.<name>)
        foreach (var g in ansible?.GroupOrder.Where(g => !groupOrder.Contains(g)) ?? [])
            foreach (var (m, _) in AnsibleMembers(g, y.Root))
            {
                if (!membership.TryGetValue(m, out var list)) membership[m] = list = [];
                list.Add((g, new YamlMappingNode()));
            }

        var result = new List<InventoryHost>();
        var names = declared.Keys.Concat(imported.Keys.Where(h => !declared.ContainsKey(h))).Concat(generated.Keys).ToList();
        var addresses = new Dictionary<string, string>();
        foreach (var h in names)
        {
            var isGenerated = generated.TryGetValue(h, out var gen);
            var ah = imported.GetValueOrDefault(h);
            var isDeclared = declared.TryGetValue(h, out var own);
            var node = isDeclared ? own.Node : new YamlMappingNode();
            var line = isGenerated ? gen.Line : isDeclared ? own.Line : ah!.Line;
            if (!isGenerated) y.AllowOnly(node, $"host '{h}'", "address", "lab", "ssh", "vars", "roles", "facts");
            var groupsOf = membership.GetValueOrDefault(h) ?? [];

            // vars: the Ansible inventory's (merged as Ansible does) < all < groups (must agree with each other) < host
            var vars = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var (k, v) in ah?.Vars ?? ImmutableSortedDictionary<string, object?>.Empty) vars[k] = v;
            foreach (var (k, v) in allVars) vars[k] = v;
            var fromGroup = new Dictionary<string, (string Group, object? Value, YamlNode Node)>(StringComparer.Ordinal);
            var hostVars = Vars(y, node);
            foreach (var (g, gm) in groupsOf)
            {
                if (y.Map(gm, "vars") is not { } gvars) continue;
                foreach (var (k, kn, v) in y.Entries(gvars))
                {
                    HostnameVars.Check(y, k, v);
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

            // the inventory's ssh: keys, then an imported Ansible host's connection vars, then the top-level ssh: keys
            var ssh = SshSettings.Parse(y, y.Map(node, "ssh"), $"host '{h}'").Over(AnsibleSettings(ah)).Over(sshDefaults);
            var address = isGenerated ? gen.Address
                : y.Str(node, "address") ?? ah?.Address ?? throw y.Error(node, $"host '{h}': 'address' is required");
            var port = ssh.Port ?? 22;
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
            // the jump host: the host's own ssh.jump, else the Ansible inventory's ProxyJump, else the inventory's ssh.jump
            JumpSettings? Named(string name, YamlNode? at, int? port = null, string? user = null)
            {
                if (name == h) return null;
                var isOwn = declared.TryGetValue(name, out var jn);
                var ja = imported.GetValueOrDefault(name);
                if (!isOwn && ja is null) throw y.Error(at, $"host '{h}': jump host '{name}' is not declared under hosts:");
                var js = SshSettings.Parse(y, isOwn ? y.Map(jn.Node, "ssh") : null, $"host '{name}'")
                    .Over(AnsibleSettings(ja)).Over(sshDefaults);
                js = js with { Port = port ?? js.Port, User = user ?? js.User };
                var jumpAddress = (isOwn ? y.Str(jn.Node, "address") : null) ?? ja?.Address
                    ?? throw y.Error(jn.Node, $"host '{name}': 'address' is required");
                return new JumpSettings(jumpAddress, js.Port ?? 22, js.User ?? "root", js.Key ?? DefaultKey) { Name = name, Ssh = js };
            }
            JumpSettings? jump;
            var ownSsh = y.Map(node, "ssh");
            if (ownSsh is not null && y.Str(ownSsh, "jump") is { } ownJump) jump = Named(ownJump, ownSsh);
            else if (ah?.Jump is { } aj)
            {
                // ProxyJump names a host of the inventory (by name or address) or any other machine, reached as this host is
                var known = names.FirstOrDefault(n => n == aj.Host || imported.GetValueOrDefault(n)?.Address == aj.Host
                    || declared.TryGetValue(n, out var d) && y.Str(d.Node, "address") == aj.Host);
                var beyond = new SshSettings(aj.User ?? ssh.User, ssh.Key, aj.Port);
                jump = known is not null ? Named(known, null, aj.Port, aj.User)
                    : new JumpSettings(aj.Host, aj.Port ?? 22, beyond.User ?? "root", ssh.Key ?? DefaultKey) { Name = aj.Host, Ssh = beyond };
            }
            else jump = sshDefaults.Jump is { } allJump ? Named(allJump, y.Map(y.Root, "ssh")) : null;
            result.Add(new InventoryHost(h, address, isLab, ssh.User ?? "root", ssh.Key ?? DefaultKey, ssh.Port ?? 22, jump,
                [.. groupsOf.Select(x => x.Group)], [.. roles], vars.ToImmutableSortedDictionary(StringComparer.Ordinal),
                DeclaredFacts(y, node, h, address), isDeclared || isGenerated ? y.DisplayPath : ah!.File, line, labOptions)
            { LabInit = labInit, Ssh = ssh });
        }
        return new Inventory(y.DisplayPath, lab, [.. result])
        {
            VarSites = [.. sites, .. ansible?.Hosts.SelectMany(h => h.VarSites) ?? []],
            Imported = [.. ansible?.Files ?? []],
            Warnings = ansible?.Warnings ?? [],
        };
    }
}
