// The parts of an NF manifest (nf.yaml): keys, repositories, directories, files, services, ports, SQL, health; NfManifest.cs loads them.
using System.Collections.Immutable;

namespace Deploy.Site.Model;

/// <summary>A string of a manifest that is rendered per host (Scriban), with its line for errors.</summary>
public sealed record Templated(string Text, int Line);

public sealed record NfKey(string Name, Templated? Url, string? SourceFile, string Path, int Line)
{
    /// <summary>The key's pinned OpenPGP fingerprint (rendered with the stack's settings), checked whenever the key is loaded.</summary>
    public Templated? Fingerprint { get; init; }
}

public sealed record NfRepository(string Name, Templated Entry, string Path, int Line);

/// <param name="Purge">Removed with everything in it when no longer wanted (a runtime or config dir of an instance).</param>
public sealed record NfDirectory(
    Templated Path, string User, string Group, string Mode, int Line, Templated? When = null, bool Purge = false);

/// <summary>A file: from a template, a static source file, or inline content.</summary>
public sealed record NfFile(
    Templated Path,
    string? Template,
    string? Source,
    Templated? Content,
    string User,
    string Group,
    string Mode,
    Templated? Validate,
    string? Block,
    ImmutableArray<Templated> Notify,
    Templated? When,
    bool Secret,
    int Line)
{
    /// <summary>A check of the rendered content made on the controller when the site is compiled (before any host is
    /// touched): <c>python</c> = it must compile with python3.</summary>
    public string? Lint { get; init; }
}

public sealed record NfService(Templated Name, string? Package, Templated? PidFile, Templated? When, int Line)
{
    /// <summary><c>state: running</c> (the default) or <c>stopped</c>.</summary>
    public bool Running { get; init; } = true;

    /// <summary><c>enabled: true</c> (the default), <c>false</c>, or <c>masked</c> (systemd: nothing can start it).</summary>
    public bool Enabled { get; init; } = true;

    public bool Masked { get; init; }
}

public sealed record NfPackage(Templated Name, Templated? When, int Line);

/// <summary>A condition checked per host when the site is compiled; failing, it stops everything with its message.</summary>
public sealed record NfCheck(Templated That, Templated Message, int Line);

/// <summary>Something an NF binds on a host: an IP:port (udp, tcp, tls, sctp), or a unix socket (<c>proto: unix</c>, the
/// path in <c>address</c>).</summary>
public sealed record NfPort(string Proto, Templated Address, Templated Port, int Line, Templated? When = null);

/// <summary>A SQL script applied to a database of the host's MySQL/MariaDB (tables and their version rows).</summary>
public sealed record NfSqlSchema(
    Templated Database, string Name, string Template, ImmutableArray<string> Tables, Templated? When, int Line);

/// <summary>A database account: its password (a secret setting), where it may connect from, its grants.</summary>
public sealed record NfSqlUser(
    Templated User, Templated From, Templated Password, ImmutableArray<Templated> Grants, Templated? When, int Line);

/// <summary>A column of a declared row: its value, and a condition (a column a table version lacks).</summary>
public sealed record NfSqlColumn(Templated Value, Templated? When);

/// <summary>
/// Rows of a table, one per item of a list setting of the stack (<c>each:</c>); every column is a template that sees the
/// item as <c>item.*</c>. Item checks fail with the line of the item in the stack file.
/// </summary>
public sealed record NfSqlRows(
    Templated Database,
    string Table,
    string Key,
    string Each,
    ImmutableSortedDictionary<string, NfSqlColumn> Columns,
    ImmutableArray<string> SecretColumns,
    ImmutableArray<NfCheck> Checks,
    ImmutableArray<Templated> Notify,
    Templated? When,
    int Line);

public sealed record NfHealth(string Kind, ImmutableSortedDictionary<string, Templated> Args, Templated? When, bool SiteWide, int Line)
{
    /// <summary>A call test: its SIPp scenarios are rendered with the site, and <c>./deploy test</c> runs it too.</summary>
    public bool CallTest { get; init; }
}

/// <summary>
/// The names an NF gives (<c>identity:</c> of nf.yaml); the compiler knows no NF's naming rules.
/// <paramref name="Host"/>: the host's identity where the NF runs (templates see <c>host.identity</c>; the CN and DNS name
/// of the host's site-CA certificate); sees <c>host</c>, <c>config</c>, <c>vars</c> and <c>instance</c>. A host no NF
/// names is known by its name.
/// <paramref name="Deployer"/>: the deployer's own identity when it speaks TLS to the NF (<c>deployer_tls</c>: the CN of
/// its site-CA client certificate); one per site, it sees only <c>config</c>.
/// </summary>
public sealed record NfIdentity(Templated? Host, Templated? Deployer, int Line);
