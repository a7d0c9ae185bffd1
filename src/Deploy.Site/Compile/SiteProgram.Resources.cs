using System.Collections.Immutable;
using System.Globalization;
using Deploy.Core.Engine;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Resources;
using Deploy.Site.Model;
using Scriban.Runtime;

namespace Deploy.Site.Compile;

/// <summary>One host's resources and health checks, rendered from its NFs; clashing ports are refused here.</summary>
public sealed partial class SiteProgram
{
    private HostDesired RenderHost(InventoryHost h, Dictionary<string, ScriptObject> hostObjs, ScriptObject configObj)
    {
        // the host's name only where the inventory opts in (manage_hostname): a brownfield host keeps its own
        var resources = new List<ResourceSpec>();
        if (HostnameVars.Wanted(h) is { } hostname) resources.Add(new HostnameSpec(hostname) { Host = h.Name, Name = "hostname" });
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
                throw new SiteException(file, line,
                    $"{spec.Type} '{spec.Name}' is declared differently by NFs '{existing.DeclaredBy}' and '{spec.DeclaredBy}'", h.Name);
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
                return Boolean(text) ?? throw new SiteException(nf.File, t.Line, $"'{key}' must be true or false, not '{text.Trim()}'",
                    h.Name);
            }
            try
            {
                foreach (var k in nf.Keys)
                {
                    // fetched or read (and checked to be the key) when the site was loaded
                    var content = _keys.GetValueOrDefault(KeyId(nf, k)) ?? throw new SiteException(nf.File, k.Line,
                        $"apt key '{k.Name}' was not fetched", h.Name);
                    Add(new FileSpec(k.Path, content, "root", "root", "0644")
                    {
                        Host = h.Name, Name = k.Path, DeclaredBy = nf.Name, Kind = ResourceTypes.AptKey, Backup = false,
                    }, nf.File, k.Line);
                }
                foreach (var r in nf.Repositories)
                {
                    var entry = R(r.Entry).Trim();
                    ShapeCheck.Ok(entry, Shapes.NoControl(entry, "apt repository entry"), nf.File, r.Line, h.Name);
                    Add(new FileSpec(r.Path, entry + "\n", "root", "root", "0644")
                    {
                        Host = h.Name, Name = r.Path, DeclaredBy = nf.Name, Kind = ResourceTypes.AptRepository, Backup = false,
                    }, nf.File, r.Line);
                }
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
                    ShapeCheck.Ok(path, d.Purge ? Shapes.PurgeablePath(path) : Shapes.AbsolutePath(path, "directory path"), nf.File,
                        d.Line, h.Name);
                    Add(new DirectorySpec(path, d.User, d.Group, d.Mode) { Host = h.Name, Name = path, DeclaredBy = by, Purge = d.Purge },
                        nf.File, d.Line);
                }
                foreach (var f in nf.Files)
                {
                    if (f.When is not null && !Truthy(f.When, "when")) continue;
                    var path = R(f.Path).Trim();
                    if (!path.StartsWith('/')) throw new SiteException(nf.File, f.Path.Line, $"file path '{path}' must be absolute",
                        h.Name);
                    var blockProblem = f.Block is null ? null : Shapes.NoControl(f.Block, "block name");
                    ShapeCheck.Ok(path, Shapes.NoControl(path, "file path") ?? blockProblem, nf.File, f.Path.Line, h.Name);
                    if (path.Split('/').Any(part => part is "." or "..") || path.Contains('\0'))
                        throw new SiteException(nf.File, f.Path.Line, $"file path '{path}' must be normalized (no '.' or '..' parts)",
                            h.Name);
                    string content;
                    // a template's name may come from vars (an instance's own config or script)
                    var template = f.Template is { } tn && tn.Contains("{{", StringComparison.Ordinal)
                        ? R(new Templated(tn, f.Line)).Trim()
                        : f.Template;
                    if (template is not null)
                    {
                        var full = _templates.Resolve(template, nf.Name)
                            ?? throw new SiteException(nf.File, f.Line,
                                $"template '{template}' not found (looked in nf/{nf.Name}/templates/ and templates/)", h.Name);
                        content = _templates.RenderFile(full, scope, h.Name);
                    }
                    else if (f.Source is not null) content = File.ReadAllText(f.Source);
                    else content = R(f.Content!);
                    if (f.Lint is not null && Lint.Check(f.Lint, path, content, CancellationToken.None) is { } problem)
                    {
                        // the problem's line is the rendered content's; with a template it is the template's where the
                        // template is plain text
                        var (file, line) = template is not null
                            ? (Path.GetRelativePath(ProjectDir, _templates.Resolve(template, nf.Name)!), problem.Line)
                            : (nf.File, f.Line);
                        throw new SiteException(file, line, $"{path} of {p.Describe()} does not compile with python3: {problem.Message}" +
                            (template is not null ? $" (line {problem.Line} of the rendered file; declared at {nf.File}:{f.Line})" : ""),
                                h.Name);
                    }
                    var secret = f.Secret
                        || Config.SecretValues.Any(v => SecretForms(v).Any(form => content.Contains(form, StringComparison.Ordinal)));
                    var (user, group) = (Account(f.User, f.Line, R, nf.File, h.Name), Account(f.Group, f.Line, R, nf.File, h.Name));
                    Add(new FileSpec(path, content, user, group, secret ? PrivateMode(f.Mode) : f.Mode)
                    {
                        // a file that holds a secret setting is a secret file: never diffed, never shown
                        Host = h.Name,
                        Name = f.Block is null ? path : $"{path}#{f.Block}",
                        DeclaredBy = by,
                        Validate = f.Validate is null ? null : ShapeCheck.Ok(R(f.Validate).Trim(),
                            Shapes.NoControl(R(f.Validate).Trim(), "validate command"), nf.File, f.Validate.Line, h.Name),
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
                    var pidFile = pidText.Length == 0 ? null : ShapeCheck.Ok(pidText, Shapes.AbsolutePath(pidText, "pid file"), nf.File,
                        s.Line, h.Name);
                    Add(new ServiceSpec(name)
                    {
                        Host = h.Name, Name = name, DeclaredBy = by, PidFile = pidFile, Package = s.Package,
                        Running = s.Running, Enabled = s.Enabled, Masked = s.Masked
                    }, nf.File, s.Line);
                }
                AddSql(h, nf, scope, by, R, Truthy, Add);
                foreach (var port in nf.Ports)
                {
                    if (port.When is not null && !Truthy(port.When, "when")) continue;
                    var addr = R(port.Address).Trim();
                    if (port.Proto == "unix")
                    {
                        ports.Add(("unix", addr.StartsWith("unix:", StringComparison.Ordinal) ? addr[5..] : addr, 0, p.Describe(), nf.File,
                            port.Line));
                        continue;
                    }
                    var num = R(port.Port).Trim();
                    if (!int.TryParse(num, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n is < 1 or > 65535)
                        throw new SiteException(nf.File, port.Line, $"port '{num}' is not a port number", h.Name);
                    ports.Add((port.Proto, addr, n, p.Describe(), nf.File, port.Line));
                }
                foreach (var c in nf.Health.Where(c => c.When is null || Truthy(c.When, "when")))
                {
                    string Arg(KeyValuePair<string, Templated> arg) => ShapeCheck.Ok(R(arg.Value).Trim(),
                        Shapes.NoControl(R(arg.Value).Trim(), $"health check {c.Kind}'s {arg.Key}"), nf.File, arg.Value.Line, h.Name);
                    var args = c.Args.ToImmutableSortedDictionary(a => a.Key, Arg, StringComparer.Ordinal);
                    if (c.CallTest) args = CallScenarios.Render(args, _templates, nf, scope, h.Name, c.Line);
                    health.Add(new HealthCheckSpec(h.Name, p.Id, c.Kind, args) { SiteWide = c.SiteWide, CallTest = c.CallTest });
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
                if (Layer(a.Proto) == Layer(b.Proto) && a.Port == b.Port && (a.Address == b.Address || a.Address == "0.0.0.0"
                    || b.Address == "0.0.0.0"))
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

    /// <summary>Where clashing instances were declared, when they were (the fix is there, not in the NF).</summary>
    private string Where(string b, string a)
    {
        var origins = Placements.Values.SelectMany(x => x).Where(x => x.InstanceOrigin is not null && (x.Describe() == a
            || x.Describe() == b))
            .Select(x => $"{x.Instance} at {x.InstanceOrigin!.Value.File}:{x.InstanceOrigin.Value.Line}").Distinct().ToList();
        return origins.Count == 0 ? "" : $"; instances declared: {string.Join(", ", origins)}";
    }

    /// <summary>A secret as a file may hold it: as is, or as the template filters escape it.</summary>
    private static IEnumerable<string> SecretForms(string v) =>
        [v, Uri.EscapeDataString(v), v.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal),
            Sh.Quote(v)];

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
}
