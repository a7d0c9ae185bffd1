using System.Collections.Immutable;

namespace Deploy.Core.Resources;

/// <summary>
/// A desired resource on one host. Records are immutable; the compiler makes them, the engine plans them,
/// providers read, diff, apply and delete them. <see cref="Name"/> is unique per host and type.
/// </summary>
public abstract record ResourceSpec
{
    public required string Host { get; init; }
    public required string Name { get; init; }

    /// <summary>The NF (or "host") that declared the resource.</summary>
    public string DeclaredBy { get; init; } = "host";

    /// <summary>Pulumi-style type token, e.g. <c>nfdeploy:fs:File</c>.</summary>
    public abstract string Type { get; }

    /// <summary>Properties that identify the live object (path, package name...): enough to read or delete it
    /// from the state file alone.</summary>
    public abstract ImmutableSortedDictionary<string, string> Identity { get; }

    public string Key => $"{Type}::{Host}:{Name}";

    /// <summary>How a preview names the resource when it causes a restart ("/etc/kamailio/kamailio.cfg changed").</summary>
    public virtual string DisplayName => $"{Type} {Name}";

    public string Urn(string stack) => $"urn:pulumi:{stack}::nf-deploy::{Type}::{Host}:{Name}";
}

public static class ResourceTypes
{
    public const string File = "nfdeploy:fs:File";
    public const string Directory = "nfdeploy:fs:Directory";
    public const string Package = "nfdeploy:apt:Package";
    public const string AptKey = "nfdeploy:apt:Key";
    public const string AptRepository = "nfdeploy:apt:Repository";
    public const string Hostname = "nfdeploy:host:Hostname";
    public const string Service = "nfdeploy:svc:Service";
    public const string LabHost = "nfdeploy:lab:Host";
    public const string SqlSchema = "nfdeploy:sql:Schema";
    public const string SqlUser = "nfdeploy:sql:User";
    public const string SqlRow = "nfdeploy:sql:Row";
    public const string Certificate = "nfdeploy:tls:Certificate";
}

internal static class Ids
{
    public static ImmutableSortedDictionary<string, string> Of(params (string Key, string? Value)[] pairs) =>
        pairs.Where(p => p.Value is not null).ToImmutableSortedDictionary(p => p.Key, p => p.Value!, StringComparer.Ordinal);
}

/// <summary>A file with exact content, compared by SHA-256. With <see cref="Block"/>, only a marked block inside
/// the file is managed (like Ansible's blockinfile) and the file is edited in place.</summary>
/// <param name="Validate">Shell command run on the new content before it replaces the old; <c>%s</c> is the
/// temporary file's path. Non-zero exit keeps the old file.</param>
/// <param name="Secret">Content never printed in diffs or logs.</param>
public sealed record FileSpec(string Path, string Content, string User, string Group, string Mode) : ResourceSpec, INotifying
{
    public string? Validate { get; init; }
    public string? Block { get; init; }
    public bool Backup { get; init; } = true;
    public bool Secret { get; init; }

    /// <summary>Backups of the file kept on the host (the newest ones; this run's always).</summary>
    public int BackupKeep { get; init; } = 3;

    /// <summary>Backups older than this are removed (but this run's).</summary>
    public int BackupMaxAgeDays { get; init; } = 30;

    /// <summary>Keys the content hash a secret file leaves in the state (the stack's own key): a config holding a password
    /// could otherwise be guessed from its hash.</summary>
    public string HashKey { get; init; } = "";

    /// <summary>The content hash as the state keeps it: keyed for a secret file, plain SHA-256 otherwise.</summary>
    public string StateHash(string sha256) => Secret && HashKey.Length > 0 ? Hashing.Keyed(sha256, HashKey) : sha256;

    /// <summary>Services (by resource name) to restart when this file changes.</summary>
    public ImmutableArray<string> Notify { get; init; } = [];

    /// <summary>Sub-kind for the type token: File, apt Key or apt Repository share the file mechanics.</summary>
    public string Kind { get; init; } = ResourceTypes.File;

    public override string Type => Kind;

    public override string DisplayName => Path;

    public override ImmutableSortedDictionary<string, string> Identity => Ids.Of(("path", Path), ("block", Block));

    public string Sha256 => Hashing.Sha256Hex(Block is null ? Content : BlockText);

    /// <summary>The block with its markers, as it appears in the file.</summary>
    public string BlockText => $"# BEGIN nf-deploy {Block}\n{Content.TrimEnd('\n')}\n# END nf-deploy {Block}\n";
}

public sealed record DirectorySpec(string Path, string User, string Group, string Mode) : ResourceSpec
{
    /// <summary>When no longer wanted, removed with its content (an instance's runtime or config dir); otherwise only
    /// when empty.</summary>
    public bool Purge { get; init; }

    public override string Type => ResourceTypes.Directory;
    public override ImmutableSortedDictionary<string, string> Identity => Ids.Of(("path", Path), ("purge", Purge ? "true" : null));
}

public sealed record PackageSpec(string Package) : ResourceSpec
{
    /// <summary>Exact version wanted, or null for "installed, any version".</summary>
    public string? Version { get; init; }
    public override string Type => ResourceTypes.Package;
    public override ImmutableSortedDictionary<string, string> Identity => Ids.Of(("package", Package));
}

public sealed record HostnameSpec(string Hostname) : ResourceSpec
{
    public override string Type => ResourceTypes.Hostname;
    public override ImmutableSortedDictionary<string, string> Identity => Ids.Of(("hostname", "hostname"));
}

/// <summary>A service: running and enabled at boot; restarted when a notifying resource changed; started when
/// its package was newly installed. Or one that must not run (<see cref="Running"/> false): stopped, and disabled
/// or masked, also right after the install of a package that starts it.</summary>
/// <param name="PidFile">When set, a restart is checked to have really replaced the process.</param>
public sealed record ServiceSpec(string Service) : ResourceSpec, IRestartable
{
    public string? PidFile { get; init; }
    public bool Enabled { get; init; } = true;
    public bool Running { get; init; } = true;

    /// <summary>systemd: linked to /dev/null, so that nothing starts it (implies stopped); sysv: disabled.</summary>
    public bool Masked { get; init; }

    /// <summary>Package (resource name) that provides the service; a fresh install starts it.</summary>
    public string? Package { get; init; }

    public override string Type => ResourceTypes.Service;
    public override ImmutableSortedDictionary<string, string> Identity => Ids.Of(("service", Service), ("pidfile", PidFile));

    bool IRestartable.MustRun => Running;

    (string Type, string Name)? IRestartable.BroughtBy => Package is null ? null : (ResourceTypes.Package, Package);

    /// <summary>Under systemd, its unit file (or its template's) and their drop-ins.</summary>
    bool IRestartable.DefinedBy(ResourceSpec changed, Model.HostFacts facts) =>
        facts.InitSystem == "systemd" && changed is FileSpec file && SystemdUnits.Configures(file.Path, Service);

    /// <summary>Stopped, and masked or disabled, right after the install of its package (which starts and enables it).</summary>
    IEnumerable<PropertyChange> IRestartable.KeepDownAfterInstall(IReadOnlyList<PropertyChange> planned)
    {
        if (!planned.Any(c => c.Name == "running"))
            yield return new PropertyChange("running", null, $"no (package {Package} newly installed starts it)");
        if (Masked && !planned.Any(c => c.Name == "masked"))
            yield return new PropertyChange("masked", null, "yes");
        else if (!Masked && !Enabled && !planned.Any(c => c.Name == "enabled"))
            yield return new PropertyChange("enabled", null, $"no (package {Package} newly installed enables it)");
    }
}

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
