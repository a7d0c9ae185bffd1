using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Resources.Health;
using Deploy.Site.Compile;
using Deploy.Site.Yaml;
using YamlDotNet.RepresentationModel;

namespace Deploy.Site.Model;

/// <summary>
/// <c>nf/&lt;name&gt;/nf.yaml</c>: one network function, declared. The program compiles it into resources; adding an
/// NF needs only its folder and templates.
/// </summary>
public sealed record NfManifest(
    string Name,
    string Dir,
    string File,
    string Description,
    ImmutableSortedDictionary<string, object?> Defaults,
    ImmutableArray<(string Name, Templated Expr)> Values,
    ImmutableArray<NfKey> Keys,
    ImmutableArray<NfRepository> Repositories,
    ImmutableArray<NfPackage> Packages,
    ImmutableArray<NfDirectory> Directories,
    ImmutableArray<NfFile> Files,
    ImmutableArray<NfService> Services,
    ImmutableArray<NfPort> Ports,
    ImmutableArray<NfHealth> Health,
    ImmutableArray<NfCheck> Checks)
{
    public ImmutableArray<NfSqlSchema> SqlSchemas { get; init; } = [];
    public ImmutableArray<NfSqlUser> SqlUsers { get; init; } = [];
    public ImmutableArray<NfSqlRows> SqlRows { get; init; } = [];

    /// <summary>The names the NF gives its host and the deployer (<c>identity:</c>), when it declares them.</summary>
    public NfIdentity? Identity { get; init; }

    public static IEnumerable<string> Known(string projectDir) =>
        Directory.Exists(Path.Combine(projectDir, "nf"))
            ? Directory.GetDirectories(Path.Combine(projectDir, "nf")).Where(d => System.IO.File.Exists(Path.Combine(d, "nf.yaml")))
                .Select(Path.GetFileName).OfType<string>().Order()
            : [];

    /// <param name="kinds">The health check kinds its <c>health:</c> entries may use; the built-in ones by default.</param>
    public static NfManifest Load(string projectDir, string name, string referencedFrom, int line, HealthCheckKinds? kinds = null)
    {
        if (!SiteNames.IsValid(name))
            throw new SiteException(referencedFrom, line,
                $"'{SiteNames.Printable(name)}' is not a valid network function name ({SiteNames.Shape})");
        var dir = Path.Combine(projectDir, "nf", name);
        var path = Path.Combine(dir, "nf.yaml");
        if (!System.IO.File.Exists(path))
            throw new SiteException(referencedFrom, line,
                $"unknown network function '{name}' (nf/: {string.Join(", ", Known(projectDir))})");
        var y = YamlFile.Load(path, projectDir);
        var root = y.Root;
        y.AllowOnly(root, "an NF manifest", "description", "defaults", "values", "checks", "apt", "packages", "directories", "files",
            "services", "ports", "health", "sql", "identity");
        Templates.RetiredNames.Check(y);

        Templated T(YamlNode n, string what) => new(y.Scalar(n, what), YamlFile.Line(n));
        Templated? OptT(YamlMappingNode m, string key) => y.Get(m, key) is { } n ? T(n, key) : null;

        var defaults = y.Map(root, "defaults") is { } d
            ? y.Entries(d).ToImmutableSortedDictionary(e => e.Key, e => y.Data(e.Value), StringComparer.Ordinal)
            : ImmutableSortedDictionary<string, object?>.Empty;
        var values = y.Map(root, "values") is { } v
            ? y.Entries(v).Select(e => (e.Key, T(e.Value, $"value '{e.Key}'"))).ToImmutableArray()
            : [];

        var keys = ImmutableArray.CreateBuilder<NfKey>();
        var repos = ImmutableArray.CreateBuilder<NfRepository>();
        if (y.Map(root, "apt") is { } apt)
        {
            y.AllowOnly(apt, "apt", "keys", "repositories");
            foreach (var k in Items(y, y.Seq(apt, "keys"), "an apt key"))
            {
                y.AllowOnly(k, "an apt key", "name", "url", "file", "path", "fingerprint");
                var kname = y.Required(k, "name", "an apt key");
                var url = OptT(k, "url");
                var file = y.Str(k, "file");
                if ((url is null) == (file is null)) throw y.Error(k, $"apt key '{kname}': give exactly one of 'url' or 'file'");
                var keyFile = file is null ? null : Deploy.Core.Paths.ContainedPath.Resolve(projectDir, file)
                    ?? throw y.Error(y.Get(k, "file"), $"apt key '{kname}': file '{file}' is outside the project");
                keys.Add(new NfKey(kname, url, keyFile,
                    y.Str(k, "path") ?? $"/etc/apt/keyrings/{kname}.asc", YamlFile.Line(k))
                { Fingerprint = OptT(k, "fingerprint") });
            }
            foreach (var r in Items(y, y.Seq(apt, "repositories"), "an apt repository"))
            {
                y.AllowOnly(r, "an apt repository", "name", "entry", "path");
                var rname = y.Required(r, "name", "an apt repository");
                var entry = y.Get(r, "entry") ?? throw y.Error(r, $"apt repository '{rname}': 'entry' is required (a sources.list line)");
                repos.Add(new NfRepository(rname, T(entry, "entry"),
                    y.Str(r, "path") ?? $"/etc/apt/sources.list.d/{rname}.list", YamlFile.Line(r)));
            }
        }

        var packages = (y.Seq(root, "packages")?.Children ?? []).Select(n =>
        {
            if (n is not YamlMappingNode pm) return new NfPackage(T(n, "a package name"), null, YamlFile.Line(n));
            y.AllowOnly(pm, "a package", "name", "when");
            return new NfPackage(T(y.Get(pm, "name") ?? throw y.Error(pm, "a package needs 'name'"), "name"), OptT(pm, "when"),
                YamlFile.Line(pm));
        }).ToImmutableArray();

        var checks = Items(y, y.Seq(root, "checks"), "a check").Select(m =>
        {
            y.AllowOnly(m, "a check", "that", "message");
            return new NfCheck(T(y.Get(m, "that") ?? throw y.Error(m, "a check needs 'that' (a condition)"), "that"),
                T(y.Get(m, "message") ?? throw y.Error(m, "a check needs 'message'"), "message"), YamlFile.Line(m));
        }).ToImmutableArray();

        var dirs = Items(y, y.Seq(root, "directories"), "a directory").Select(m =>
        {
            y.AllowOnly(m, "a directory", "path", "owner", "group", "mode", "when", "purge");
            return new NfDirectory(T(y.Get(m, "path") ?? throw y.Error(m, "a directory needs 'path'"), "path"),
                y.Str(m, "owner") ?? "root", y.Str(m, "group") ?? "root", Mode(y, m, "0755"), YamlFile.Line(m), OptT(m, "when"),
                y.Str(m, "purge") is "true" or "yes");
        }).ToImmutableArray();

        var files = Items(y, y.Seq(root, "files"), "a file").Select(m =>
        {
            y.AllowOnly(m, "a file",
                "path", "template", "source", "content", "owner", "group", "mode", "validate", "block", "notify", "when", "secret", "lint");
            var lint = y.Str(m, "lint");
            if (lint is not null && Lint.Find(lint) is null) throw y.Error(y.Get(m, "lint"), Lint.Unknown(lint));
            var template = y.Str(m, "template");
            var source = y.Str(m, "source");
            var content = OptT(m, "content");
            if (new object?[] { template, source, content }.Count(x => x is not null) != 1)
                throw y.Error(m, "a file needs exactly one of 'template', 'source' or 'content'");
            var sourcePath = source is null ? null : Deploy.Core.Paths.ContainedPath.Resolve(Path.Combine(dir, "files"), source)
                ?? throw y.Error(y.Get(m, "source"),
                    $"source file '{source}' is outside nf/{name}/files/ (a source names a file of the NF's files/ folder)");
            if (source is not null && !System.IO.File.Exists(sourcePath))
                throw y.Error(y.Get(m, "source"), $"source file nf/{name}/files/{source} not found");
            var notify = (y.Seq(m, "notify")?.Children ?? []).Select(n => T(n, "a service name")).ToImmutableArray();
            return new NfFile(T(y.Get(m, "path") ?? throw y.Error(m, "a file needs 'path'"), "path"), template,
                sourcePath, content,
                y.Str(m, "owner") ?? "root", y.Str(m, "group") ?? "root", Mode(y, m, "0644"), OptT(m, "validate"),
                y.Str(m, "block"), notify, OptT(m, "when"), y.Str(m, "secret") is "true" or "yes", YamlFile.Line(m))
            { Lint = lint };
        }).ToImmutableArray();

        var services = Items(y, y.Seq(root, "services"), "a service").Select(m =>
        {
            y.AllowOnly(m, "a service", "name", "package", "pidfile", "when", "state", "enabled");
            y.Required(m, "name", "a service");
            var state = y.Str(m, "state") ?? "running";
            if (state is not ("running" or "stopped"))
                throw y.Error(y.Get(m, "state"), $"state of a service must be running or stopped, not '{state}'");
            var enabled = y.Str(m, "enabled") ?? "true";
            if (enabled is not ("true" or "false" or "masked"))
                throw y.Error(y.Get(m, "enabled"), $"enabled of a service must be true, false or masked, not '{enabled}'");
            if (state == "running" && enabled == "masked")
                throw y.Error(y.Get(m, "enabled"), "a masked service cannot be running (state: stopped)");
            return new NfService(T(y.Get(m, "name")!, "name"), y.Str(m, "package"), OptT(m, "pidfile"), OptT(m, "when"), YamlFile.Line(m))
            {
                Running = state == "running",
                Enabled = enabled == "true",
                Masked = enabled == "masked",
            };
        }).ToImmutableArray();

        var ports = Items(y, y.Seq(root, "ports"), "a port").Select(m =>
        {
            y.AllowOnly(m, "a port", "proto", "address", "port", "path", "when");
            var proto = y.Str(m, "proto") ?? "udp";
            if (proto is not ("udp" or "tcp" or "tls" or "sctp" or "unix"))
                throw y.Error(m, $"port proto must be udp, tcp, tls, sctp or unix, not '{proto}'");
            if (proto == "unix")
                return new NfPort(proto, T(y.Get(m, "path") ?? throw y.Error(m, "a unix socket needs 'path'"), "path"),
                    new Templated("0", YamlFile.Line(m)), YamlFile.Line(m), OptT(m, "when"));
            return new NfPort(proto, OptT(m, "address") ?? new Templated("0.0.0.0", YamlFile.Line(m)),
                T(y.Get(m, "port") ?? throw y.Error(m, "a port needs 'port'"), "port"), YamlFile.Line(m), OptT(m, "when"));
        }).ToImmutableArray();

        var health = Items(y, y.Seq(root, "health"), "a health check")
            .Select(m => NfManifestHealth.Read(y, m, kinds ?? HealthCheckKinds.BuiltIn)).ToImmutableArray();

        ImmutableArray<NfSqlSchema> schemas = [];
        ImmutableArray<NfSqlUser> users = [];
        ImmutableArray<NfSqlRows> rows = [];
        if (y.Map(root, "sql") is { } sql)
        {
            y.AllowOnly(sql, "sql", "schemas", "users", "rows");
            schemas = [.. Items(y, y.Seq(sql, "schemas"), "a schema").Select(m =>
            {
                y.AllowOnly(m, "a schema", "database", "name", "template", "tables", "when");
                var tables = (y.Seq(m, "tables")?.Children ?? []).Select(n => y.Scalar(n, "a table name")).ToImmutableArray();
                if (tables.IsEmpty) throw y.Error(m, "a schema needs 'tables': the tables its script creates");
                return new NfSqlSchema(T(y.Get(m, "database") ?? throw y.Error(m, "a schema needs 'database'"), "database"),
                    y.Required(m, "name", "a schema"), y.Required(m, "template", "a schema"), tables, OptT(m, "when"), YamlFile.Line(m));
            })];
            users = [.. Items(y, y.Seq(sql, "users"), "a database user").Select(m =>
            {
                y.AllowOnly(m, "a database user", "user", "from", "password", "grants", "when");
                return new NfSqlUser(T(y.Get(m, "user") ?? throw y.Error(m, "a database user needs 'user'"), "user"),
                    OptT(m, "from") ?? new Templated("localhost", YamlFile.Line(m)),
                    T(y.Get(m, "password") ?? throw y.Error(m, "a database user needs 'password' (from a secret setting)"), "password"),
                    [.. (y.Seq(m, "grants")?.Children ?? []).Select(n => T(n, "a grant"))], OptT(m, "when"), YamlFile.Line(m));
            })];
            rows = [.. Items(y, y.Seq(sql, "rows"), "rows").Select(m =>
            {
                y.AllowOnly(m, "rows", "database", "table", "key", "each", "columns", "secret_columns", "checks", "notify", "when");
                var columns = y.Map(m, "columns") ?? throw y.Error(m, "rows need 'columns' (column: template)");
                var cols = y.Entries(columns).ToImmutableSortedDictionary(e => e.Key, e =>
                {
                    if (e.Value is not YamlMappingNode cm) return new NfSqlColumn(T(e.Value, e.Key), null);
                    y.AllowOnly(cm, "a column", "value", "when");
                    var value = y.Get(cm, "value") ?? throw y.Error(cm, $"column '{e.Key}' needs 'value'");
                    return new NfSqlColumn(T(value, e.Key), OptT(cm, "when"));
                }, StringComparer.Ordinal);
                var key = y.Required(m, "key", "rows");
                if (!cols.ContainsKey(key)) throw y.Error(y.Get(m, "key"), $"key column '{key}' is not among the columns");
                var secret = (y.Seq(m, "secret_columns")?.Children ?? []).Select(n => y.Scalar(n, "a column name")).ToImmutableArray();
                foreach (var c in secret.Where(c => !cols.ContainsKey(c)))
                    throw y.Error(y.Get(m, "secret_columns"), $"secret column '{c}' is not among the columns");
                var itemChecks = Items(y, y.Seq(m, "checks"), "a check").Select(c =>
                {
                    y.AllowOnly(c, "a check", "that", "message");
                    return new NfCheck(T(y.Get(c, "that") ?? throw y.Error(c, "a check needs 'that' (a condition)"), "that"),
                        T(y.Get(c, "message") ?? throw y.Error(c, "a check needs 'message'"), "message"), YamlFile.Line(c));
                }).ToImmutableArray();
                return new NfSqlRows(T(y.Get(m, "database") ?? throw y.Error(m, "rows need 'database'"), "database"),
                    y.Required(m, "table", "rows"), key, y.Required(m, "each", "rows"), cols, secret, itemChecks,
                    [.. (y.Seq(m, "notify")?.Children ?? []).Select(n => T(n, "a service name"))], OptT(m, "when"), YamlFile.Line(m));
            })];
        }

        NfIdentity? identity = null;
        if (y.Map(root, "identity") is { } im)
        {
            y.AllowOnly(im, "identity", "host", "deployer");
            identity = new NfIdentity(OptT(im, "host"), OptT(im, "deployer"), YamlFile.Line(im));
        }

        return new NfManifest(name, dir, y.DisplayPath, y.Str(root, "description") ?? "", defaults, values,
            keys.ToImmutable(), repos.ToImmutable(), packages, dirs, files, services, ports, health, checks)
        { SqlSchemas = schemas, SqlUsers = users, SqlRows = rows, Identity = identity };
    }

    private static IEnumerable<YamlMappingNode> Items(YamlFile y, YamlSequenceNode? seq, string what) =>
        (seq?.Children ?? []).Select(n => n as YamlMappingNode ?? throw y.Error(n, $"{what} must be a mapping"));

    private static string Mode(YamlFile y, YamlMappingNode m, string fallback)
    {
        var mode = y.Str(m, "mode") ?? fallback;
        if (mode.Length is < 3 or > 4 || !mode.All(c => c is >= '0' and <= '7'))
            throw y.Error(y.Get(m, "mode"), $"mode '{mode}' must be octal like \"0644\" (quote it in YAML)");
        return mode;
    }
}
