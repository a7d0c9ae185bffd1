using System.Collections.Immutable;
using System.Globalization;
using Deploy.Core.Engine;
using Deploy.Core.Lab;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Core.Transport;
using Deploy.Site.Model;
using Deploy.Site.Templates;
using Scriban.Runtime;

namespace Deploy.Site.Compile;

/// <summary>One NF on one host, with the vars it sees (NF defaults &lt; role vars &lt; inventory vars &lt; the instance's
/// own vars). An NF a role runs with <c>instances:</c> is placed once per instance.</summary>
public sealed record NfPlacement(NfManifest Nf, RoleFile Role, ImmutableSortedDictionary<string, object?> Vars)
{
    /// <summary>The instance's name when the NF runs as several instances on the host.</summary>
    public string? Instance { get; init; }

    /// <summary>The instance's own vars (they overlay <see cref="Vars"/>); templates see them, and its name, as <c>instance.*</c>.</summary>
    public ImmutableSortedDictionary<string, object?> InstanceVars { get; init; } = ImmutableSortedDictionary<string, object?>.Empty;

    /// <summary>Where the instance was declared (for errors about it).</summary>
    public (string File, int Line)? InstanceOrigin { get; init; }

    /// <summary>The NF, or NF@instance: declares resources, names health checks, keys <c>host.nf</c>.</summary>
    public string Id => Instance is null ? Nf.Name : $"{Nf.Name}@{Instance}";

    /// <summary>For messages: "NF 'kamailio'" or "instance 'pcscf' of NF 'kamailio-instance'".</summary>
    public string Describe() => Instance is null ? $"NF '{Nf.Name}'" : $"instance '{Instance}' of NF '{Nf.Name}'";
}

/// <summary>
/// A loaded site compiled into per-host NF placements. <see cref="Materialize"/> renders every host's resources
/// from facts: first each host's per-NF values (listen IPs, identities...), then the resources, which may look at
/// other hosts' values (a PCRF's peers, a DMQ cluster's members).
/// </summary>
public sealed partial class SiteProgram : ISiteProgram
{
    private readonly TemplateEngine _templates;
    private readonly ImmutableDictionary<string, string> _keys;
    private readonly Lazy<Pki.ICertificateSource> _certificates;

    public SiteProgram(
        string projectDir,
        ProjectFile project,
        StackConfig config,
        Inventory inventory,
        ImmutableDictionary<string, ImmutableArray<NfPlacement>> placements,
        ImmutableDictionary<string, string> fetchedKeys,
        TemplateEngine templates,
        string? labAuthorizedKey,
        Func<Pki.CertificatePolicy, Pki.ICertificateSource> certificates)
    {
        _certificates = new Lazy<Pki.ICertificateSource>(() => certificates(CertificatePolicy));
        ProjectDir = projectDir;
        Project = project;
        Config = config;
        CertificatePolicy = PolicyOf(config);
        Inventory = inventory;
        Placements = placements;
        _keys = fetchedKeys;
        _templates = templates;
        Managed = [.. inventory.Hosts.Where(h => h.Roles.Length > 0)];
        Hosts = [.. Managed.Select(h => new HostTarget(h.Name, Connection(projectDir, h),
            h.Lab ? new LabHostSpec(h.Name, h.Address, h.User, h.LabOptions?.Devices ?? [], h.LabOptions?.Capabilities ?? []) { Init = h.LabInit } : null,
            h.Facts ?? (h.Lab ? HostFacts.Assumed(h.Name, h.Address, init: h.LabInit) : null))
        {
            // rolling batches per inventory group: rollout_batch ("1", "50%"), rollout_max_fail (percent of the group)
            Rollout = new RolloutPolicy(h.Groups.FirstOrDefault() ?? h.Name,
                Convert.ToString(h.Vars.GetValueOrDefault("rollout_batch") ?? "1", CultureInfo.InvariantCulture) ?? "1",
                h.Vars.GetValueOrDefault("rollout_max_fail") is long max ? (int)max : 0),
        })];
        if (inventory.Lab is { } lab && Managed.Any(h => h.Lab))
            Lab = new LabSpec(config.Stack, lab.Network, lab.Subnet, lab.Gateway, lab.Image, lab.AptProxy,
                labAuthorizedKey ?? "",
                [.. Hosts.Where(h => h.Lab is not null).Select(h => h.Lab!)]);
    }

    public string ProjectDir { get; }
    public ProjectFile Project { get; }
    public StackConfig Config { get; }
    public Inventory Inventory { get; }
    public ImmutableDictionary<string, ImmutableArray<NfPlacement>> Placements { get; }

    /// <summary>Hosts with at least one role (a bastion, say, is in the inventory but runs nothing).</summary>
    public ImmutableArray<InventoryHost> Managed { get; }

    public string Stack => Config.Stack;
    public LabSpec? Lab { get; }
    public ImmutableArray<HostTarget> Hosts { get; }

    private static HostConnection Connection(string projectDir, InventoryHost h) =>
        new(h.Name, new SshEndpoint(h.Address, h.Port, h.User, KeyPath(projectDir, h.Key)),
            h.Jump is { } j ? new SshEndpoint(j.Address, j.Port, j.User, KeyPath(projectDir, j.Key)) : null);

    /// <summary>A key path of the inventory: <c>~/</c> is the user's home, relative paths are the project's.</summary>
    public static string KeyPath(string projectDir, string key) => key.StartsWith("~/", StringComparison.Ordinal)
        ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), key[2..])
        : Path.GetFullPath(Path.Combine(projectDir, key));

    public ImmutableArray<HostDesired> Materialize(IReadOnlyDictionary<string, HostFacts> facts, CancellationToken ct)
    {
        var errors = new List<SiteException>();
        _certificateResources.Clear();
        var configObj = TemplateEngine.FromDictionary(Config.Values.Select(kv => new KeyValuePair<string, object?>(kv.Key, kv.Value)));
        var hostObjs = new Dictionary<string, ScriptObject>(StringComparer.Ordinal);
        foreach (var h in Managed)
            hostObjs[h.Name] = HostObject(h, facts.GetValueOrDefault(h.Name) ?? HostFacts.Assumed(h.Name, h.Address));

        // phase 1: per-host NF values
        foreach (var h in Managed)
        {
            ct.ThrowIfCancellationRequested();
            var nfs = (ScriptObject)hostObjs[h.Name]["nf"]!;
            foreach (var p in Placements[h.Name])
            {
                try
                {
                    var nfObj = new ScriptObject();
                    nfs[p.Id] = nfObj;
                    var scope = Scope(h, hostObjs, configObj, p, nfObj);
                    foreach (var (name, expr) in p.Nf.Values)
                        nfObj[name] = _templates.RenderInline(expr.Text, scope, p.Nf.File, expr.Line, h.Name).Trim();
                }
                catch (SiteException e) { errors.Add(e); }
            }
        }
        if (errors.Count > 0) throw new SiteErrors(errors);

        // phase 2: resources
        var result = ImmutableArray.CreateBuilder<HostDesired>();
        foreach (var h in Managed)
        {
            ct.ThrowIfCancellationRequested();
            try { result.Add(RenderHost(h, hostObjs, configObj)); }
            catch (SiteException e) { errors.Add(e); }
            catch (SiteErrors e) { errors.AddRange(e.Errors); }
        }
        if (errors.Count > 0) throw new SiteErrors(errors);
        return result.ToImmutable();
    }

    private HostDesired RenderHost(InventoryHost h, Dictionary<string, ScriptObject> hostObjs, ScriptObject configObj)
    {
        var resources = new List<ResourceSpec> { new HostnameSpec(h.Name) { Host = h.Name, Name = "hostname" } };
        var health = ImmutableArray.CreateBuilder<HealthCheckSpec>();
        var ports = new List<(string Proto, string Address, int Port, string Nf, string File, int Line)>();
        string Bound(string proto, string address, int port) => proto == "unix" ? $"unix socket {address}" : $"{proto} {address}:{port}";
        var errors = new List<SiteException>();
        var nfs = (ScriptObject)hostObjs[h.Name]["nf"]!;

        void Add(ResourceSpec spec, string file, int line)
        {
            var existing = resources.FirstOrDefault(r => r.Key == spec.Key);
            if (existing is null) { resources.Add(spec); return; }
            // one file declared alike by several instances (a shared certificate) notifies all their services
            if (existing is FileSpec ef && spec is FileSpec sf && (ef with { Notify = sf.Notify, DeclaredBy = sf.DeclaredBy }) == sf)
            {
                resources[resources.IndexOf(existing)] = ef with { Notify = [.. ef.Notify.Union(sf.Notify)] };
                return;
            }
            if (existing with { DeclaredBy = spec.DeclaredBy } != spec)
                throw new SiteException(file, line, $"{spec.Type} '{spec.Name}' is declared differently by NFs '{existing.DeclaredBy}' and '{spec.DeclaredBy}'", h.Name);
        }

        foreach (var p in Placements[h.Name])
        {
            var nf = p.Nf;
            var scope = Scope(h, hostObjs, configObj, p, (ScriptObject)nfs[p.Id]!);
            var by = p.Id;
            string R(Templated t) => _templates.RenderInline(t.Text, scope, nf.File, t.Line, h.Name);
            bool Truthy(Templated t, string key)
            {
                var text = R(t);
                return Boolean(text) ?? throw new SiteException(nf.File, t.Line, $"'{key}' must be true or false, not '{text.Trim()}'", h.Name);
            }
            try
            {
                foreach (var k in nf.Keys)
                {
                    // fetched or read (and checked to be the key) when the site was loaded
                    var content = _keys.GetValueOrDefault(KeyId(nf, k)) ?? throw new SiteException(nf.File, k.Line, $"apt key '{k.Name}' was not fetched", h.Name);
                    Add(new FileSpec(k.Path, content, "root", "root", "0644") { Host = h.Name, Name = k.Path, DeclaredBy = nf.Name, Kind = ResourceTypes.AptKey, Backup = false }, nf.File, k.Line);
                }
                foreach (var r in nf.Repositories)
                    Add(new FileSpec(r.Path, ShapeCheck.Ok(R(r.Entry).Trim(), Shapes.NoControl(R(r.Entry).Trim(), "apt repository entry"), nf.File, r.Line, h.Name) + "\n", "root", "root", "0644") { Host = h.Name, Name = r.Path, DeclaredBy = nf.Name, Kind = ResourceTypes.AptRepository, Backup = false }, nf.File, r.Line);
                foreach (var c in nf.Checks)
                    if (!Truthy(c.That, "that"))
                        throw new SiteException(nf.File, c.Line, R(c.Message).Trim(), h.Name);
                foreach (var pkg in nf.Packages)
                {
                    if (pkg.When is not null && !Truthy(pkg.When, "when")) continue;
                    var name = ShapeCheck.Ok(R(pkg.Name).Trim(), Shapes.PackageName(R(pkg.Name).Trim()), nf.File, pkg.Line, h.Name);
                    Add(new PackageSpec(name) { Host = h.Name, Name = name, DeclaredBy = nf.Name }, nf.File, pkg.Line);
                }
                foreach (var d in nf.Directories)
                {
                    if (d.When is not null && !Truthy(d.When, "when")) continue;
                    var path = R(d.Path).Trim();
                    ShapeCheck.Ok(path, d.Purge ? Shapes.PurgeablePath(path) : Shapes.AbsolutePath(path, "directory path"), nf.File, d.Line, h.Name);
                    Add(new DirectorySpec(path, d.User, d.Group, d.Mode) { Host = h.Name, Name = path, DeclaredBy = by, Purge = d.Purge }, nf.File, d.Line);
                }
                foreach (var f in nf.Files)
                {
                    if (f.When is not null && !Truthy(f.When, "when")) continue;
                    var path = R(f.Path).Trim();
                    if (!path.StartsWith('/')) throw new SiteException(nf.File, f.Path.Line, $"file path '{path}' must be absolute", h.Name);
                    ShapeCheck.Ok(path, Shapes.NoControl(path, "file path") ?? (f.Block is null ? null : Shapes.NoControl(f.Block, "block name")), nf.File, f.Path.Line, h.Name);
                    if (path.Split('/').Any(part => part is "." or "..") || path.Contains('\0'))
                        throw new SiteException(nf.File, f.Path.Line, $"file path '{path}' must be normalized (no '.' or '..' parts)", h.Name);
                    string content;
                    // a template's name may come from vars (an instance's own config or script)
                    var template = f.Template is { } tn && tn.Contains("{{", StringComparison.Ordinal) ? R(new Templated(tn, f.Line)).Trim() : f.Template;
                    if (template is not null)
                    {
                        var full = _templates.Resolve(template, nf.Name)
                            ?? throw new SiteException(nf.File, f.Line, $"template '{template}' not found (looked in nf/{nf.Name}/templates/ and templates/)", h.Name);
                        content = _templates.RenderFile(full, scope, h.Name);
                    }
                    else if (f.Source is not null) content = File.ReadAllText(f.Source);
                    else content = R(f.Content!);
                    if (f.Lint is not null && Lint.Check(f.Lint, path, content, CancellationToken.None) is { } problem)
                    {
                        // the problem's line is the rendered content's; with a template it is the template's where the template is plain text
                        var (file, line) = template is not null
                            ? (Path.GetRelativePath(ProjectDir, _templates.Resolve(template, nf.Name)!), problem.Line)
                            : (nf.File, f.Line);
                        throw new SiteException(file, line, $"{path} of {p.Describe()} does not compile with python3: {problem.Message}" +
                            (template is not null ? $" (line {problem.Line} of the rendered file; declared at {nf.File}:{f.Line})" : ""), h.Name);
                    }
                    var secret = f.Secret || Config.SecretValues.Any(v => SecretForms(v).Any(form => content.Contains(form, StringComparison.Ordinal)));
                    Add(new FileSpec(path, content, Account(f.User, f.Line, R, nf.File, h.Name), Account(f.Group, f.Line, R, nf.File, h.Name), secret ? PrivateMode(f.Mode) : f.Mode)
                    {
                        // a file that holds a secret setting is a secret file: never diffed, never shown
                        Host = h.Name,
                        Name = f.Block is null ? path : $"{path}#{f.Block}",
                        DeclaredBy = by,
                        Validate = f.Validate is null ? null : ShapeCheck.Ok(R(f.Validate).Trim(), Shapes.NoControl(R(f.Validate).Trim(), "validate command"), nf.File, f.Validate.Line, h.Name),
                        Block = f.Block,
                        Notify = [.. f.Notify.Select(n => R(n).Trim())],
                        Secret = secret,
                        HashKey = secret ? Config.StateHashKey : "",
                        BackupKeep = ShapeCheck.Count(p.Vars, "backup_keep", 3, nf.File, f.Line, h.Name),
                        BackupMaxAgeDays = ShapeCheck.Count(p.Vars, "backup_max_age_days", 30, nf.File, f.Line, h.Name),
                    }, nf.File, f.Line);
                }
                foreach (var s in nf.Services)
                {
                    if (s.When is not null && !Truthy(s.When, "when")) continue;
                    var name = R(s.Name).Trim();
                    ShapeCheck.Ok(name, Shapes.ServiceName(name), nf.File, s.Line, h.Name);
                    // a pid file that renders empty is none (under systemd the unit knows its main process)
                    var pidText = s.PidFile is null ? "" : R(s.PidFile).Trim();
                    var pidFile = pidText.Length == 0 ? null : ShapeCheck.Ok(pidText, Shapes.AbsolutePath(pidText, "pid file"), nf.File, s.Line, h.Name);
                    Add(new ServiceSpec(name) { Host = h.Name, Name = name, DeclaredBy = by, PidFile = pidFile, Package = s.Package,
                        Running = s.Running, Enabled = s.Enabled, Masked = s.Masked }, nf.File, s.Line);
                }
                AddSql(h, nf, scope, by, R, Truthy, Add);
                foreach (var port in nf.Ports)
                {
                    if (port.When is not null && !Truthy(port.When, "when")) continue;
                    var addr = R(port.Address).Trim();
                    if (port.Proto == "unix")
                    {
                        ports.Add(("unix", addr.StartsWith("unix:", StringComparison.Ordinal) ? addr[5..] : addr, 0, p.Describe(), nf.File, port.Line));
                        continue;
                    }
                    var num = R(port.Port).Trim();
                    if (!int.TryParse(num, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n is < 1 or > 65535)
                        throw new SiteException(nf.File, port.Line, $"port '{num}' is not a port number", h.Name);
                    ports.Add((port.Proto, addr, n, p.Describe(), nf.File, port.Line));
                }
                foreach (var c in nf.Health.Where(c => c.When is null || Truthy(c.When, "when")))
                {
                    var args = c.Args.ToImmutableSortedDictionary(a => a.Key, a => ShapeCheck.Ok(R(a.Value).Trim(), Shapes.NoControl(R(a.Value).Trim(), $"health check {c.Kind}'s {a.Key}"), nf.File, a.Value.Line, h.Name), StringComparer.Ordinal);
                    if (c.Kind == "call") args = CallScenarios.Render(args, _templates, nf, scope, h.Name, c.Line);
                    health.Add(new HealthCheckSpec(h.Name, p.Id, c.Kind, args) { SiteWide = c.SiteWide });
                }
            }
            catch (SiteException e) { errors.Add(e); }
        }

        // two NFs (or two instances of one) binding the same IP:port or unix socket; TLS runs over TCP
        static string Layer(string proto) => proto is "tls" ? "tcp" : proto;
        for (var i = 0; i < ports.Count; i++)
            for (var j = 0; j < i; j++)
            {
                var (a, b) = (ports[j], ports[i]);
                if (Layer(a.Proto) == Layer(b.Proto) && a.Port == b.Port && (a.Address == b.Address || a.Address == "0.0.0.0" || b.Address == "0.0.0.0"))
                    errors.Add(new SiteException(b.File, b.Line,
                        $"{Bound(b.Proto, b.Address, b.Port)} of {b.Nf} clashes with {Bound(a.Proto, a.Address, a.Port)} of {a.Nf}" +
                        (a.File == b.File && a.Line == b.Line ? "" : $" ({a.File}:{a.Line})") + Where(b.Nf, a.Nf), h.Name));
            }
        if (errors.Count > 0) throw new SiteErrors(errors);
        // the host's certificate (a resource of the controller's PKI) goes before the files that carry it
        if (CertificateOf(h.Name) is { } certificate) resources.Insert(1, certificate);
        return new HostDesired(h.Name, [.. resources], health.ToImmutable());
    }

    public static string KeyId(NfManifest nf, NfKey k) => $"{nf.Name}/{k.Name}";

    /// <summary>An NF's database resources: schemas, users, and rows made from the items of a list setting.</summary>
    private void AddSql(InventoryHost h, NfManifest nf, ScriptObject scope, string by, Func<Templated, string> r, Func<Templated, string, bool> truthy, Action<ResourceSpec, string, int> add)
    {
        foreach (var sc in nf.SqlSchemas.Where(x => x.When is null || truthy(x.When, "when")))
        {
            var full = _templates.Resolve(sc.Template, nf.Name)
                ?? throw new SiteException(nf.File, sc.Line, $"template '{sc.Template}' not found (looked in nf/{nf.Name}/templates/ and templates/)", h.Name);
            var db = r(sc.Database).Trim();
            ShapeCheck.Ok(db, Shapes.SqlIdentifier(db, "database name"), nf.File, sc.Line, h.Name);
            add(new SqlSchemaSpec(db, sc.Name, _templates.RenderFile(full, scope, h.Name), sc.Tables) { Host = h.Name, Name = $"{db}/{sc.Name}", DeclaredBy = by }, nf.File, sc.Line);
        }
        foreach (var u in nf.SqlUsers.Where(x => x.When is null || truthy(x.When, "when")))
        {
            var (user, from, password) = (r(u.User).Trim(), r(u.From).Trim(), r(u.Password));
            if (password.Length == 0 || !Config.SecretValues.Contains(password))
                throw new SiteException(nf.File, u.Line, $"the password of database user '{user}' must come from a secret setting (./deploy config set KEY VALUE --secret)", h.Name);
            ShapeCheck.Ok(user, Shapes.SqlUser(user) ?? Shapes.SqlHost(from), nf.File, u.Line, h.Name);
            var grants = u.Grants.Select(g => r(g).Trim()).Select(g => ShapeCheck.Ok(g, Shapes.Grant(g), nf.File, u.Line, h.Name)).ToImmutableArray();
            add(new SqlUserSpec(user, from, password, grants) { Host = h.Name, Name = $"{user}@{from}", DeclaredBy = by, HashKey = Config.StateHashKey }, nf.File, u.Line);
        }
        foreach (var rows in nf.SqlRows.Where(x => x.When is null || truthy(x.When, "when")))
        {
            if (!Config.Values.TryGetValue(rows.Each, out var list))
                throw new SiteException(nf.File, rows.Line, $"rows of {rows.Table}: 'each: {rows.Each}' is not a setting of the project", h.Name);
            if (list is not List<object?> itemsList)
                throw new SiteException(nf.File, rows.Line, $"rows of {rows.Table}: setting '{rows.Each}' must be a list of mappings", h.Name);
            var db = r(rows.Database).Trim();
            foreach (var (name, what) in new[] { (db, "database name"), (rows.Table, "table name") }.Concat(rows.Columns.Keys.Select(c => (c, "column name"))))
                ShapeCheck.Ok(name, Shapes.SqlIdentifier(name, what), nf.File, rows.Line, h.Name);
            var lines = Config.ItemLines.GetValueOrDefault(rows.Each);
            var keys = new Dictionary<string, int>(StringComparer.Ordinal);
            for (var i = 0; i < itemsList.Count; i++)
            {
                // an item's mistakes are the stack file's, at the item's line
                var (file, line) = lines.IsDefault || i >= lines.Length ? (Config.DisplayPath, Config.KeyLines.GetValueOrDefault(rows.Each)) : (Config.DisplayPath, lines[i]);
                if (itemsList[i] is not Dictionary<string, object?> item)
                    throw new SiteException(file, line, $"{rows.Each}[{i}]: must be a mapping (a {rows.Table} row)");
                var itemScope = (ScriptObject)scope.Clone(false);
                itemScope["item"] = TemplateEngine.FromDictionary(item);
                string Ri(Templated t) => _templates.RenderInline(t.Text, itemScope, nf.File, t.Line, h.Name);
                var label = item.TryGetValue(rows.Key, out var kv) && kv is not null ? $"{rows.Each}[{i}] ({rows.Key} {Shapes.Show(Convert.ToString(kv, CultureInfo.InvariantCulture) ?? "")})" : $"{rows.Each}[{i}]";
                foreach (var c in rows.Checks)
                    if (!(Boolean(Ri(c.That)) ?? throw new SiteException(nf.File, c.Line, "'that' must be true or false", h.Name))) throw new SiteException(file, line, $"{label}: {Ri(c.Message).Trim()}");
                var cols = rows.Columns.Where(c => c.Value.When is null || (Boolean(Ri(c.Value.When)) ?? throw new SiteException(nf.File, rows.Line, $"'when' of column {c.Key} must be true or false", h.Name)))
                    .ToImmutableSortedDictionary(c => c.Key, c => Ri(c.Value.Value).Trim(), StringComparer.Ordinal);
                foreach (var sc in rows.SecretColumns)
                    if (cols.TryGetValue(sc, out var v) && v.Length > 0 && !Config.SecretValues.Contains(v))
                        throw new SiteException(file, line, $"{label}: column {sc} must come from a secret setting (./deploy config set KEY VALUE --secret)");
                var key = cols[rows.Key];
                if (Shapes.NoControl(key, $"{label}: {rows.Key}") is { } badKey) throw new SiteException(file, line, badKey);
                if (key.Length == 0) throw new SiteException(file, line, $"{label}: {rows.Key} is empty");
                if (keys.TryGetValue(key, out var first))
                    throw new SiteException(file, line, $"{label}: {rows.Key} '{key}' is already used by {rows.Each}[{first}]");
                keys[key] = i;
                add(new SqlRowSpec(db, rows.Table, rows.Key, key, cols)
                {
                    Host = h.Name, Name = $"{db}.{rows.Table}/{key}", DeclaredBy = by, SecretColumns = rows.SecretColumns, HashKey = Config.StateHashKey,
                    Notify = [.. rows.Notify.Select(n => Ri(n).Trim()).Where(n => n.Length > 0)],
                }, nf.File, rows.Line);
            }
        }
    }

    /// <summary>Where clashing instances were declared, when they were (the fix is there, not in the NF).</summary>
    private string Where(string b, string a)
    {
        var origins = Placements.Values.SelectMany(x => x).Where(x => x.InstanceOrigin is not null && (x.Describe() == a || x.Describe() == b))
            .Select(x => $"{x.Instance} at {x.InstanceOrigin!.Value.File}:{x.InstanceOrigin.Value.Line}").Distinct().ToList();
        return origins.Count == 0 ? "" : $"; instances declared: {string.Join(", ", origins)}";
    }

    /// <summary>A secret as a file may hold it: as is, or as the template filters escape it.</summary>
    private static IEnumerable<string> SecretForms(string v) =>
        [v, Uri.EscapeDataString(v), v.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal), Sh.Quote(v)];

    /// <summary>A file's owner or group, which may come from vars (<c>group: "{{ vars.fd_key_group }}"</c>).</summary>
    private static string Account(string text, int line, Func<Templated, string> render, string file, string host)
    {
        if (!text.Contains("{{", StringComparison.Ordinal)) return text;
        var name = render(new Templated(text, line)).Trim();
        return System.Text.RegularExpressions.Regex.IsMatch(name, "^[a-z_][a-z0-9_-]{0,31}$") ? name
            : throw new SiteException(file, line, $"'{name}' is not a user or group name", host);
    }

    /// <summary>A file holding a secret is never readable by others: 0644 becomes 0640 (its owner and group keep theirs).</summary>
    private static string PrivateMode(string mode) => mode.Length == 0 ? mode : mode[..^1] + "0";

    /// <summary>A rendered condition (<c>when:</c>, a check's <c>that:</c>); null when it is neither true nor false.</summary>
    private static bool? Boolean(string s) => s.Trim() switch
    {
        "true" or "True" or "yes" or "1" => true,
        "" or "false" or "False" or "no" or "0" => false,
        _ => null,
    };

    private ScriptObject Scope(InventoryHost h, Dictionary<string, ScriptObject> hostObjs, ScriptObject configObj, NfPlacement p, ScriptObject nfObj)
    {
        var me = hostObjs[h.Name];
        var scope = new ScriptObject
        {
            ["host"] = me,
            ["config"] = configObj,
            ["vars"] = TemplateEngine.FromDictionary(p.Vars.Select(kv => new KeyValuePair<string, object?>(kv.Key, kv.Value))),
            ["nf"] = nfObj,
            ["instance"] = p.Instance is null ? null : Instance(p),
            ["hosts"] = new ScriptArray(Managed.Select(x => hostObjs[x.Name])),
            ["groups"] = Groups(hostObjs),
            ["site"] = new ScriptObject { ["stack"] = Stack, ["project"] = Project.Name },
        };
        scope.Import("ipv4", new Func<string?, string>(iface => Ipv4(h.Name, me, iface)));
        scope.Import("ip_network", new Func<string, string>(NetFunctions.IpNetwork));
        scope.Import("nf_group", new Func<string?, ScriptArray>(name =>
            new ScriptArray(Managed.Where(x => name is { Length: > 0 } && x.Groups.Contains(name)).Select(x => hostObjs[x.Name]))));
        scope.Import("tls_ca", new Func<string>(() => _certificates.Value.CaPem));
        // the deployer's own TLS identity (nf-deploy.<realm>), for health checks that speak TLS to the hosts
        scope.Import("deployer_tls", new Func<ScriptObject>(() =>
        {
            var realm = Config.Values.GetValueOrDefault("realm") as string ?? "invalid";
            var identity = $"nf-deploy.{realm}";
            _certificates.Value.ForHost("nf-deploy", identity, []);
            var (cert, key) = _certificates.Value.PathsOf("nf-deploy");
            return new ScriptObject { ["identity"] = identity, ["cert"] = cert, ["key"] = key, ["ca"] = _certificates.Value.CaPath };
        }));
        scope.Import("tls_cert", new Func<string>(() => Certificate(h, me).CertPem));
        scope.Import("tls_key", new Func<string>(() => Certificate(h, me).KeyPem));
        scope.Import("nf_hosts", new Func<string, ScriptArray>(name =>
            new ScriptArray(Managed.Where(x => Placements[x.Name].Any(pl => pl.Nf.Name == name)).Select(x => hostObjs[x.Name]))));
        return scope;
    }

    private static ScriptObject Instance(NfPlacement p)
    {
        var o = TemplateEngine.FromDictionary(p.InstanceVars.Select(kv => new KeyValuePair<string, object?>(kv.Key, kv.Value)));
        o["name"] = p.Instance;
        return o;
    }

    private ScriptObject Groups(Dictionary<string, ScriptObject> hostObjs)
    {
        var groups = new ScriptObject();
        foreach (var g in Managed.SelectMany(h => h.Groups).Distinct())
            groups[g] = new ScriptArray(Managed.Where(h => h.Groups.Contains(g)).Select(h => hostObjs[h.Name]));
        return groups;
    }

    /// <summary>
    /// The host's TLS certificate: from the inventory (<c>tls_cert_file</c>/<c>tls_key_file</c>, checked against the
    /// host's identity) or issued by the site CA for its identity and addresses.
    /// </summary>
    private Pki.HostCertificate Certificate(InventoryHost h, ScriptObject me)
    {
        var identity = (string)me["diameter_identity"]!;
        if (h.Vars.GetValueOrDefault("tls_cert_file") is string certFile)
        {
            var keyFile = h.Vars.GetValueOrDefault("tls_key_file") as string
                ?? throw new TemplateFunctionException($"host {h.Name}: tls_cert_file is set but tls_key_file is not");
            var certPath = Deploy.Core.Paths.ContainedPath.Resolve(ProjectDir, certFile)
                ?? throw new TemplateFunctionException($"host {h.Name}: tls_cert_file '{certFile}' is outside the project");
            var keyPath = Deploy.Core.Paths.ContainedPath.Resolve(ProjectDir, keyFile)
                ?? throw new TemplateFunctionException($"host {h.Name}: tls_key_file '{keyFile}' is outside the project");
            System.Security.Cryptography.X509Certificates.X509Certificate2 pair;
            try { pair = Pki.SiteCertificates.LoadPair(certPath, keyPath, $"host {h.Name}"); }
            catch (DeployException e) { throw new TemplateFunctionException(e.Message); }
            using (pair)
            {
                var cn = pair.GetNameInfo(System.Security.Cryptography.X509Certificates.X509NameType.SimpleName, false);
                if (cn != identity)
                    throw new TemplateFunctionException($"host {h.Name}: the certificate {certFile} is for '{cn}', but the host's Diameter identity is '{identity}' (freeDiameter refuses a certificate whose CN is not its Identity)");
            }
            return new Pki.HostCertificate(File.ReadAllText(certPath), File.ReadAllText(keyPath), null);
        }
        // the host's own addresses: not loopback, not a tunnel's (ogstun carries the UEs' gateway, which changes nothing here)
        var addresses = ((ScriptObject)me["interfaces"]!).Where(i => i.Key != "lo" && ((ScriptObject)i.Value!)["tunnel"] is not true)
            .SelectMany(i => ((ScriptArray)((ScriptObject)i.Value!)["ipv4"]!).Cast<string>()).ToList();
        try { return Planned(_certificates.Value.ForHost(h.Name, identity, addresses)); }
        catch (DeployException e) { throw new TemplateFunctionException(e.Message); }
    }

    /// <summary>The first IPv4 of an interface (telecom hosts are multi-homed), or of the default-route interface.</summary>
    private static string Ipv4(string host, ScriptObject me, string? iface)
    {
        if (string.IsNullOrEmpty(iface))
            return me["default_ipv4"] as string is { Length: > 0 } d ? d
                : throw new TemplateFunctionException($"host {host} has no default IPv4 address");
        var ifaces = (ScriptObject)me["interfaces"]!;
        if (ifaces[iface] is ScriptObject i && i["ipv4"] is ScriptArray { Count: > 0 } a) return (string)a[0]!;
        throw new TemplateFunctionException($"host {host} has no IPv4 address on interface '{iface}' (interfaces: {string.Join(", ", ifaces.Keys)})");
    }

    private ScriptObject HostObject(InventoryHost h, HostFacts f)
    {
        var ifaces = new ScriptObject();
        foreach (var i in f.Interfaces)
            ifaces[i.Name] = new ScriptObject { ["ipv4"] = new ScriptArray(i.IPv4), ["ipv6"] = new ScriptArray(i.IPv6), ["tunnel"] = i.Tunnel };
        var realm = Config.Values.GetValueOrDefault("realm") as string;
        var tls = "/etc/nf-deploy/tls";
        return new ScriptObject
        {
            ["name"] = h.Name,
            ["address"] = h.Address,
            ["lab"] = h.Lab,
            ["groups"] = new ScriptArray(h.Groups),
            ["roles"] = new ScriptArray(h.Roles.Select(r => r.Role).Distinct()),
            ["vars"] = TemplateEngine.FromDictionary(h.Vars.Select(kv => new KeyValuePair<string, object?>(kv.Key, kv.Value))),
            ["hostname"] = f.Hostname,
            ["codename"] = f.Codename,
            ["init"] = f.InitSystem,
            ["arch"] = f.Arch,
            ["default_interface"] = f.DefaultInterface,
            ["default_ipv4"] = f.DefaultIPv4,
            ["interfaces"] = ifaces,
            ["diameter_identity"] = realm is null ? h.Name : $"{h.Name}.{realm}",
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
