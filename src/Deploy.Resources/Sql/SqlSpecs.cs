using System.Collections.Immutable;
using Deploy.Core.Resources;

namespace Deploy.Resources;

/// <summary>
/// A named SQL script applied to a MySQL/MariaDB database on the host (tables with their version rows, as Kamailio's
/// <c>*-create.sql</c>): the database is created if missing, the script runs when its text changed or a table it
/// creates is missing. Its text must be re-runnable (<c>CREATE TABLE IF NOT EXISTS</c>, <c>INSERT IGNORE</c>).
/// </summary>
/// <param name="Tables">Tables the script creates: one missing means the schema must be applied again.</param>
public sealed record SqlSchemaSpec(string Database, string Schema, string Sql, ImmutableArray<string> Tables) : ResourceSpec
{
    public override string Type => ResourceTypes.SqlSchema;
    public override ImmutableSortedDictionary<string, string> Identity => Ids.Of(("database", Database), ("schema", Schema));
    public string Sha256 => Hashing.Sha256Hex(Sql);
}

/// <summary>A database account with its password (a secret: compared on the host, never shown) and its grants.</summary>
/// <param name="Grants">Each as in <c>GRANT &lt;grant&gt; TO …</c>, e.g. <c>ALL PRIVILEGES ON kamailio.*</c>.</param>
public sealed record SqlUserSpec(string User, string From, string Password, ImmutableArray<string> Grants) : ResourceSpec
{
    /// <summary>Keys the hash of the password kept in the state (the stack's own key; see <c>StackConfig.StateHashKey</c>).</summary>
    public string HashKey { get; init; } = "";
    public override string Type => ResourceTypes.SqlUser;
    public override ImmutableSortedDictionary<string, string> Identity => Ids.Of(("user", User), ("from", From));
}

/// <summary>
/// One row of a table, found by its key column, managed like a file: created, updated column by column, deleted when no
/// longer declared. Secret columns are compared on the host by hash and shown as <c>[secret]</c>.
/// </summary>
public sealed record SqlRowSpec(string Database, string Table, string KeyColumn, string KeyValue, ImmutableSortedDictionary<string, string> Columns)
    : ResourceSpec, INotifying
{
    public ImmutableArray<string> SecretColumns { get; init; } = [];

    /// <summary>Keys the hashes of secret columns kept in the state.</summary>
    public string HashKey { get; init; } = "";
    public ImmutableArray<string> Notify { get; init; } = [];
    public override string Type => ResourceTypes.SqlRow;
    public override ImmutableSortedDictionary<string, string> Identity =>
        Ids.Of(("database", Database), ("table", Table), ("key", KeyColumn), ("value", KeyValue));
}
