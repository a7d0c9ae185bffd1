using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using Deploy.Core.Model;
using Deploy.Core.Resources;

namespace Deploy.Resources;

/// <summary>
/// SQL against the host's MySQL/MariaDB, as root over its unix socket (Debian's default: no password). A statement
/// travels base64-encoded in a here-document (no value can end it: base64 has no newline or '_' of its own), is decoded
/// on the host into the client's stdin, and the client runs with <c>--binary-mode</c> (no client commands such as
/// <c>\!</c> or <c>system</c>). Values are escaped string literals; names are checked shapes; nothing reaches a command line.
/// </summary>
internal static class Sql
{
    /// <summary>A string literal, escaped as mysql_real_escape_string does (backslash, quotes, NUL, CR, LF, ^Z).</summary>
    public static string Literal(string s)
    {
        var sb = new StringBuilder("'", s.Length + 2);
        foreach (var c in s)
            sb.Append(c switch
            {
                '\\' => "\\\\",
                '\'' => "\\'",
                '"' => "\\\"",
                '\0' => "\\0",
                '\n' => "\\n",
                '\r' => "\\r",
                '\x1a' => "\\Z",
                _ => c.ToString(),
            });
        return sb.Append('\'').ToString();
    }

    /// <summary>An identifier (database, table, column) of a checked shape, in backticks.</summary>
    public static string Id(string s) => "`" + Shapes.Ensure(s, Shapes.SqlIdentifier(s, "SQL name")) + "`";

    /// <summary>Runs SQL with the mysql client; <paramref name="clientArgs"/> are fixed flags only.</summary>
    /// <param name="tail">Shell after the command (<c>| awk ...</c>, <c>|| true</c>).</param>
    public static string Client(string sql, string clientArgs = "", string tail = "")
    {
        var b64 = Convert.ToBase64String(Encoding.UTF8.GetBytes(sql.TrimEnd() + "\n"), Base64FormattingOptions.InsertLineBreaks).Replace("\r", "", StringComparison.Ordinal);
        return $"base64 -d <<'NFD_SQL' | mysql --binary-mode {clientArgs} {tail}\n{b64}\nNFD_SQL\n";
    }

    /// <summary>Runs <paramref name="body"/> only where the mysql client is installed (the package may come in the same
    /// run). Probes run in the read script's own shell: never <c>exit</c> there.</summary>
    public static string Guarded(string body) => $"if command -v mysql >/dev/null 2>&1; then\n{body.TrimEnd()}\nfi\n";

    /// <summary>How <c>mysql -B</c> prints a value (tab, newline and backslash escaped).</summary>
    public static string BatchEscape(string s) =>
        s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\t", "\\t", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    /// <summary>What the state keeps of a secret: an HMAC-SHA256 keyed by the stack's own key (derived from its
    /// passphrase, never stored), so that a state file alone allows no dictionary attack.</summary>
    public static string Hash(string s, string key) => Hashing.Keyed(s, key);
}

/// <summary>A database with a schema script (<see cref="SqlSchemaSpec"/>). The applied script's hash is kept in a
/// table <c>nfd_schema</c> of the database; a changed script or a missing table applies it again.</summary>
public sealed class SqlSchemaProvider : ResourceProvider<SqlSchemaSpec>
{
    public override string Type => ResourceTypes.SqlSchema;

    public override string Probe(ImmutableSortedDictionary<string, string> identity)
    {
        var db = identity["database"];
        return Sql.Guarded(Sql.Client($"""
            SELECT CONCAT('exists=', COUNT(*)) FROM information_schema.schemata WHERE schema_name = {Sql.Literal(db)};
            SELECT CONCAT('tables=', IFNULL(GROUP_CONCAT(table_name ORDER BY table_name SEPARATOR ','), '')) FROM information_schema.tables WHERE table_schema = {Sql.Literal(db)};
            SELECT CONCAT('sha=', sha) FROM {Sql.Id(db)}.nfd_schema WHERE name = {Sql.Literal(identity["schema"])};
            """, "-N -B --force 2>/dev/null"));
    }

    public override LiveState? Parse(SqlSchemaSpec desired, IReadOnlyDictionary<string, string> values, HostFacts facts) =>
        values.GetValueOrDefault("exists") is "1" ? LiveState.Of(values.Where(v => v.Key is "tables" or "sha")) : null;

    public override ResourceDiff Diff(SqlSchemaSpec desired, LiveState? live)
    {
        var s = desired;
        if (live is null) return new ResourceDiff(StepOp.Create, [new PropertyChange("database", null, s.Database), new PropertyChange("schema", null, s.Schema)]);
        var changes = ImmutableArray.CreateBuilder<PropertyChange>();
        var have = (live["tables"] ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        var missing = s.Tables.Where(t => !have.Contains(t)).ToList();
        if (missing.Count > 0) changes.Add(new PropertyChange("tables", "missing " + string.Join(", ", missing), string.Join(", ", s.Tables)));
        var sha = "sha256:" + s.Sha256[..16];
        if (live["sha"] != sha) changes.Add(new PropertyChange("script", live["sha"], sha));
        return changes.Count == 0 ? ResourceDiff.Same : new ResourceDiff(StepOp.Update, changes.ToImmutable());
    }

    public override async Task<LiveState> ApplyAsync(SqlSchemaSpec desired, ResourceDiff diff, HostRun run, CancellationToken ct)
    {
        var s = desired;
        var db = Sql.Id(s.Database);
        var script = Sql.Client($"""
            CREATE DATABASE IF NOT EXISTS {db};
            USE {db};
            {s.Sql.TrimEnd()}
            CREATE TABLE IF NOT EXISTS nfd_schema (name VARCHAR(64) NOT NULL PRIMARY KEY, sha VARCHAR(80) NOT NULL) COMMENT 'nf-deploy: applied schema scripts';
            REPLACE INTO nfd_schema (name, sha) VALUES ({Sql.Literal(s.Schema)}, {Sql.Literal("sha256:" + s.Sha256[..16])});
            """);
        var after = await Script.RunAndProbeAsync(run, desired.Name, script, Probe(s.Identity), ct);
        return Parse(s, after, run.Facts) ?? throw new ResourceException(run.Transport.HostName, desired.Name, "database missing right after it was created");
    }

    /// <summary>Forgets the schema (its row in nfd_schema) and keeps the data: tables such as Kamailio's <c>version</c>
    /// are shared, and dropping data is left to the operator.</summary>
    public override Task DeleteAsync(ImmutableSortedDictionary<string, string> identity, HostRun run, CancellationToken ct) =>
        Script.RunAsync(run, $"{identity["database"]}/{identity["schema"]}", Sql.Guarded(Sql.Client(
            $"DELETE FROM {Sql.Id(identity["database"])}.nfd_schema WHERE name = {Sql.Literal(identity["schema"])};", "--force 2>/dev/null", "|| true")), ct);
}

/// <summary>A database account (<see cref="SqlUserSpec"/>). The password is compared as MySQL stores it
/// (mysql_native_password: <c>*</c> + SHA1(SHA1(password))), and kept in the state only as a hash of that.</summary>
public sealed class SqlUserProvider : ResourceProvider<SqlUserSpec>
{
    public override string Type => ResourceTypes.SqlUser;

    private static string Account(ImmutableSortedDictionary<string, string> id) =>
        $"{Sql.Literal(Shapes.Ensure(id["user"], Shapes.SqlUser(id["user"])))}@{Sql.Literal(Shapes.Ensure(id["from"], Shapes.SqlHost(id["from"])))}";

    /// <summary>Prints <c>auth=</c> (the stored password hash) and <c>grants=</c> (what each GRANT line grants, without
    /// backticks, joined by |).</summary>
    public override string Probe(ImmutableSortedDictionary<string, string> identity) =>
        Sql.Guarded(Sql.Client($"""
            SELECT CONCAT('auth=', authentication_string) FROM mysql.user WHERE User = {Sql.Literal(identity["user"])} AND Host = {Sql.Literal(identity["from"])};
            SHOW GRANTS FOR {Account(identity)};
            """, "-N -B --force 2>/dev/null", "| awk '/^auth=/{print; next} /^GRANT /{g=$0; sub(/ IDENTIFIED BY .*/,\"\",g); sub(/ TO .*/,\"\",g); sub(/^GRANT /,\"\",g); gsub(/`/,\"\",g); s=s (s==\"\"?\"\":\"|\") g} END{print \"grants=\" s}'"));

    public override LiveState? Parse(SqlUserSpec desired, IReadOnlyDictionary<string, string> values, HostFacts facts)
    {
        if (!values.TryGetValue("auth", out var auth)) return null;
        var key = desired.HashKey;
        return LiveState.Of([new("password", Sql.Hash(auth, key)), new("grants", values.GetValueOrDefault("grants") ?? "")]);
    }

    /// <summary>MySQL's stored form of a mysql_native_password password.</summary>
    public static string NativeHash(string password) =>
        "*" + Convert.ToHexString(SHA1.HashData(SHA1.HashData(Encoding.UTF8.GetBytes(password))));

    public override ResourceDiff Diff(SqlUserSpec desired, LiveState? live)
    {
        var u = desired;
        if (live is null) return new ResourceDiff(StepOp.Create, [new PropertyChange("user", null, u.Name), new PropertyChange("password", null, "[secret]")]);
        var changes = ImmutableArray.CreateBuilder<PropertyChange>();
        if (live["password"] != Sql.Hash(NativeHash(u.Password), u.HashKey)) changes.Add(new PropertyChange("password", "[secret]", "[secret]"));
        var have = (live["grants"] ?? "").Split('|').ToHashSet(StringComparer.Ordinal);
        foreach (var g in u.Grants.Select(g => g.Replace("`", "", StringComparison.Ordinal)).Where(g => !have.Contains(g)))
            changes.Add(new PropertyChange("grant", null, g));
        return changes.Count == 0 ? ResourceDiff.Same : new ResourceDiff(StepOp.Update, changes.ToImmutable());
    }

    public override async Task<LiveState> ApplyAsync(SqlUserSpec desired, ResourceDiff diff, HostRun run, CancellationToken ct)
    {
        var u = desired;
        var account = Account(u.Identity);
        var pw = Sql.Literal(u.Password);
        var script = Sql.Client($"""
            CREATE USER IF NOT EXISTS {account} IDENTIFIED BY {pw};
            ALTER USER {account} IDENTIFIED BY {pw};
            {string.Concat(u.Grants.Select(g => $"GRANT {Shapes.Ensure(g, Shapes.Grant(g))} TO {account};\n"))}FLUSH PRIVILEGES;
            """);
        try
        {
            var after = await Script.RunAndProbeAsync(run, desired.Name, script, Probe(u.Identity), ct);
            return Parse(u, after, run.Facts) ?? throw new ResourceException(run.Transport.HostName, desired.Name, "user missing right after it was created");
        }
        catch (ResourceException e) { throw new ResourceException(run.Transport.HostName, desired.Name, Redact(e.Reason, u.Password)); }
    }

    private static string Redact(string text, string secret) => secret.Length == 0 ? text : text.Replace(secret, "[secret]", StringComparison.Ordinal);

    public override Task DeleteAsync(ImmutableSortedDictionary<string, string> identity, HostRun run, CancellationToken ct) =>
        Script.RunAsync(run, $"{identity["user"]}@{identity["from"]}", Sql.Guarded(Sql.Client($"DROP USER IF EXISTS {Account(identity)};")), ct);
}

/// <summary>One row of a table found by its key column (<see cref="SqlRowSpec"/>), upserted column by column.</summary>
public sealed class SqlRowProvider : ResourceProvider<SqlRowSpec>
{
    public override string Type => ResourceTypes.SqlRow;

    private static string Table(ImmutableSortedDictionary<string, string> id) => $"{Sql.Id(id["database"])}.{Sql.Id(id["table"])}";

    private static string Where(ImmutableSortedDictionary<string, string> id) => $"{Sql.Id(id["key"])} = {Sql.Literal(id["value"])}";

    /// <summary>Prints <c>c.&lt;column&gt;=&lt;value&gt;</c> for the row (mysql -B: header line, then the row).</summary>
    public override string Probe(ImmutableSortedDictionary<string, string> identity) =>
        Sql.Guarded(Sql.Client($"SELECT * FROM {Table(identity)} WHERE {Where(identity)} LIMIT 1;", "-B --force 2>/dev/null",
            "| awk -F'\\t' 'NR==1{for(i=1;i<=NF;i++)h[i]=$i; next} NR==2{print \"exists=1\"; for(i=1;i<=NF;i++) print \"c.\" h[i] \"=\" $i}'"));

    public override LiveState? Parse(SqlRowSpec desired, IReadOnlyDictionary<string, string> values, HostFacts facts)
    {
        if (values.GetValueOrDefault("exists") != "1") return null;
        // only the declared columns (an id or a timestamp the table keeps is not ours); secret ones as hashes
        var row = desired;
        return LiveState.Of(values.Where(v => v.Key.StartsWith("c.", StringComparison.Ordinal) && row.Columns.ContainsKey(v.Key[2..]))
            .Select(v => new KeyValuePair<string, string>(v.Key[2..], row.SecretColumns.Contains(v.Key[2..]) ? Sql.Hash(v.Value, row.HashKey) : v.Value)));
    }

    private static string Expected(SqlRowSpec r, string column)
    {
        var v = Sql.BatchEscape(r.Columns[column]);
        return r.SecretColumns.Contains(column) ? Sql.Hash(v, r.HashKey) : v;
    }

    public override ResourceDiff Diff(SqlRowSpec desired, LiveState? live)
    {
        var r = desired;
        string Show(string c, string? v) => v is null ? "∅" : r.SecretColumns.Contains(c) ? "[secret]" : v;
        if (live is null)
            return new ResourceDiff(StepOp.Create, [.. r.Columns.Keys.Select(c => new PropertyChange(c, null, Show(c, r.Columns[c])))]);
        var changes = r.Columns.Keys.Where(c => live[c] != Expected(r, c))
            .Select(c => new PropertyChange(c, live[c] is null ? "(no such column)" : Show(c, live[c]), Show(c, r.Columns[c])))
            .ToImmutableArray();
        return changes.IsEmpty ? ResourceDiff.Same : new ResourceDiff(StepOp.Update, changes);
    }

    public override async Task<LiveState> ApplyAsync(SqlRowSpec desired, ResourceDiff diff, HostRun run, CancellationToken ct)
    {
        var r = desired;
        var cols = r.Columns.Keys.ToList();
        var script = Sql.Client($"""
            INSERT INTO {Table(r.Identity)} ({string.Join(", ", cols.Select(Sql.Id))})
            VALUES ({string.Join(", ", cols.Select(c => Sql.Literal(r.Columns[c])))})
            ON DUPLICATE KEY UPDATE {string.Join(", ", cols.Where(c => c != r.KeyColumn).Select(c => $"{Sql.Id(c)} = VALUES({Sql.Id(c)})"))};
            """);
        try
        {
            var after = await Script.RunAndProbeAsync(run, desired.Name, script, Probe(r.Identity), ct);
            return Parse(r, after, run.Facts) ?? throw new ResourceException(run.Transport.HostName, desired.Name,
                $"row missing right after it was written (is {r.KeyColumn} a unique key of {r.Table}?)");
        }
        catch (ResourceException e)
        {
            var text = r.SecretColumns.Select(c => r.Columns[c]).Where(v => v.Length > 0).Aggregate(e.Reason, (t, v) => t.Replace(v, "[secret]", StringComparison.Ordinal));
            throw new ResourceException(run.Transport.HostName, desired.Name, text);
        }
    }

    public override Task DeleteAsync(ImmutableSortedDictionary<string, string> identity, HostRun run, CancellationToken ct) =>
        Script.RunAsync(run, $"{identity["database"]}.{identity["table"]}/{identity["value"]}",
            Sql.Guarded(Sql.Client($"DELETE FROM {Table(identity)} WHERE {Where(identity)};", "--force 2>/dev/null", "|| true")), ct);
}
