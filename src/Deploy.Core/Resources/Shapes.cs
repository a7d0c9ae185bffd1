using System.Text.RegularExpressions;

namespace Deploy.Core.Resources;

/// <summary>
/// The shapes names must have before they meet a script on a host (site files are untrusted input): each check returns
/// why a value is refused, or null. The compiler reports a refusal with the site file's line; providers check again
/// (a value may come from an edited state file) and refuse to build a script around a bad one.
/// </summary>
public static partial class Shapes
{
    /// <summary>A systemd unit (template instances <c>name@inst</c> included) or an init.d script name.</summary>
    public static string? ServiceName(string s) =>
        ServiceRe().IsMatch(s) && !s.Contains("..", StringComparison.Ordinal) ? null
            : $"service name '{Show(s)}' must be letters, digits and '-', '_', '.', '@', ':' (at most 128, starting with a letter or digit)";

    /// <summary>A host name as RFC 1123 has it: dot-separated labels of letters, digits and '-' (1–63 each, not starting
    /// or ending with '-'), at most 253 in all. A fully qualified name (sip1.example.net) is one.</summary>
    public static string? HostName(string s) =>
        s.Length is > 0 and <= 253 && s.Split('.').All(HostLabelRe().IsMatch) ? null
            : $"host name '{Show(s)}' is not an RFC 1123 name (dot-separated labels of letters, digits and '-', 1 to 63 each, " +
              "not starting or ending with '-'; at most 253 in all)";

    /// <summary>A Debian package name (policy §5.6.1), optionally <c>:arch</c>.</summary>
    public static string? PackageName(string s) =>
        PackageRe().IsMatch(s) ? null
            : $"package name '{Show(s)}' is not a Debian package name (lowercase letters, digits, '+', '-', '.', starting with a letter or digit)";

    /// <summary>A Debian version (policy §5.6.12).</summary>
    public static string? PackageVersion(string s) =>
        VersionRe().IsMatch(s) ? null : $"package version '{Show(s)}' is not a Debian version";

    /// <summary>A database, table or column name (no quoting needed in MySQL).</summary>
    public static string? SqlIdentifier(string s, string what) =>
        SqlIdRe().IsMatch(s) ? null : $"{what} '{Show(s)}' must be letters, digits and '_' (at most 64, not starting with a digit)";

    /// <summary>A MySQL/MariaDB account's user name.</summary>
    public static string? SqlUser(string s) =>
        SqlUserRe().IsMatch(s) ? null : $"database user '{Show(s)}' must be letters, digits and '_', '-', '.' (at most 80)";

    /// <summary>Where a MySQL/MariaDB account may connect from: localhost, a host name, an address, a % pattern.</summary>
    public static string? SqlHost(string s) =>
        SqlHostRe().IsMatch(s) ? null : $"database host '{Show(s)}' must be a host name, an address or a '%' pattern";

    /// <summary>Privileges a site may grant (nothing that reaches files or the server itself: no FILE, SUPER, GRANT OPTION).</summary>
    public static readonly IReadOnlySet<string> Privileges = new HashSet<string>(StringComparer.Ordinal)
    {
        "ALL", "ALL PRIVILEGES", "SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "INDEX", "ALTER",
        "CREATE TEMPORARY TABLES", "LOCK TABLES", "CREATE VIEW", "SHOW VIEW", "REFERENCES", "TRIGGER", "EXECUTE",
        "CREATE ROUTINE", "ALTER ROUTINE", "EVENT",
    };

    /// <summary>A grant <c>PRIV[, PRIV...] ON db.*</c> or <c>ON db.table</c>, privileges from <see cref="Privileges"/>.</summary>
    public static string? Grant(string g)
    {
        if (NoControl(g, "grant") is { } control) return control;
        var m = GrantRe().Match(g);
        if (!m.Success)
            return $"grant '{Show(g)}' must be '<privileges> ON <database>.*' or '<privileges> ON <database>.<table>'";
        foreach (var p in m.Groups[1].Value.Split(',').Select(p => Regex.Replace(p.Trim(), @"\s+", " ").ToUpperInvariant()))
            if (!Privileges.Contains(p))
                return $"grant '{Show(g)}': privilege '{p}' is not one a site may grant ({string.Join(", ", Privileges.Order(StringComparer.Ordinal))})";
        return SqlIdentifier(m.Groups[2].Value, "grant's database") ?? (m.Groups[3].Value == "*" ? null : SqlIdentifier(m.Groups[3].Value, "grant's table"));
    }

    /// <summary>A DNS name (a certificate's name, a Diameter identity): labels of letters, digits, '-' and '_', not
    /// starting or ending with '-', at most 63 each and 253 in all.</summary>
    public static string? DnsName(string s, string what) =>
        s.Length <= 253 && DnsNameRe().IsMatch(s) ? null
            : $"{what} '{Show(s)}' must be a DNS name: labels of letters, digits, '-' and '_' joined by '.' (at most 253)";

    /// <summary>A value that meets a script must hold no control character (newline, NUL, escape...).</summary>
    public static string? NoControl(string s, string what)
    {
        var i = s.AsSpan().IndexOfAnyInRange('\0', '\x1f');
        if (i < 0) i = s.IndexOf('\x7f', StringComparison.Ordinal);
        return i < 0 ? null : $"{what} '{Show(s)}' holds a control character ({Escape(s[i])})";
    }

    /// <summary>An absolute path with no control character.</summary>
    public static string? AbsolutePath(string p, string what) =>
        NoControl(p, what) ?? (p.StartsWith('/') ? null : $"{what} '{Show(p)}' must be absolute");

    /// <summary>
    /// A directory removed with all it holds: absolute, written plainly (no <c>.</c>, <c>..</c> or <c>//</c>: what the
    /// site says is what is removed), at least two levels deep and no system directory.
    /// </summary>
    public static string? PurgeablePath(string p)
    {
        if (AbsolutePath(p, "purged directory") is { } bad) return bad;
        var normal = Normalize(p);
        var trimmed = p.Length > 1 ? p.TrimEnd('/') : p;
        if (trimmed != normal)
            return $"purged directory '{Show(p)}' must be written plainly: it is '{normal}' (no '.', '..' or '//')";
        if (normal.Count(c => c == '/') < 2 || SystemDirs.Contains(normal) || normal.StartsWith("/proc/", StringComparison.Ordinal)
            || normal.StartsWith("/sys/", StringComparison.Ordinal) || normal.StartsWith("/dev/", StringComparison.Ordinal))
            return $"purged directory '{Show(p)}' is a system directory: a purge removes everything in it";
        return null;
    }

    /// <summary>A path with <c>.</c>, <c>..</c> and repeated or trailing slashes resolved (lexically, as the kernel would
    /// without symlinks).</summary>
    public static string Normalize(string p)
    {
        var parts = new List<string>();
        foreach (var part in p.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".") continue;
            if (part == "..") { if (parts.Count > 0) parts.RemoveAt(parts.Count - 1); continue; }
            parts.Add(part);
        }
        return "/" + string.Join('/', parts);
    }

    /// <summary>Directories no purge may remove (beyond every top-level one, which depth alone refuses).</summary>
    public static readonly IReadOnlySet<string> SystemDirs = new HashSet<string>(StringComparer.Ordinal)
    {
        "/etc/apt", "/etc/default", "/etc/init.d", "/etc/systemd", "/etc/ssh", "/etc/ssl", "/etc/security", "/etc/pam.d",
        "/etc/sudoers.d", "/etc/cron.d", "/etc/network", "/etc/alternatives", "/etc/mysql", "/etc/kamailio", "/etc/freeDiameter",
        "/etc/open5gs", "/etc/nf-deploy", "/etc/rc0.d", "/etc/rc1.d", "/etc/rc2.d", "/etc/rc3.d", "/etc/rc4.d", "/etc/rc5.d",
        "/etc/rc6.d", "/etc/rcS.d",
        "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libexec", "/usr/include", "/usr/share", "/usr/src",
        "/usr/local", "/usr/local/bin", "/usr/local/sbin", "/usr/local/lib", "/usr/local/share", "/usr/local/etc",
        "/usr/local/lib/nf-deploy",
        "/var/lib", "/var/log", "/var/cache", "/var/spool", "/var/backups", "/var/mail", "/var/tmp", "/var/opt", "/var/local",
        "/var/run", "/var/lock", "/var/lib/dpkg", "/var/lib/apt", "/var/lib/mysql", "/var/lib/systemd",
        "/run/systemd", "/run/user", "/run/lock", "/run/mysqld", "/run/sshd", "/lib/systemd", "/usr/lib/systemd",
    };

    /// <summary>Refuses a value whose check failed (a provider's last line of defence: the compiler refuses first).</summary>
    public static string Ensure(string value, string? problem) =>
        problem is null ? value : throw new Deploy.Core.Model.DeployException("refused: " + problem);

    /// <summary>A value as shown in an error: control characters escaped, cut at 80 characters.</summary>
    public static string Show(string s)
    {
        var shown = string.Concat(s.Take(80).Select(c => c < ' ' || c == '\x7f' ? Escape(c) : c.ToString()));
        return s.Length > 80 ? shown + "…" : shown;
    }

    private static string Escape(char c) => c switch
    {
        '\n' => "\\n",
        '\r' => "\\r",
        '\t' => "\\t",
        '\0' => "\\0",
        _ => $"\\x{(int)c:x2}",
    };

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}\z")]
    private static partial Regex ServiceRe();

    [GeneratedRegex(@"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\z")]
    private static partial Regex HostLabelRe();

    [GeneratedRegex(@"^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?\z")]
    private static partial Regex PackageRe();

    [GeneratedRegex(@"^([0-9]+:)?[0-9][A-Za-z0-9.+~-]*(-[A-Za-z0-9.+~]+)?\z")]
    private static partial Regex VersionRe();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]{0,63}\z")]
    private static partial Regex SqlIdRe();

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}\z")]
    private static partial Regex SqlUserRe();

    [GeneratedRegex(@"^[A-Za-z0-9_.%:-]{1,255}\z")]
    private static partial Regex SqlHostRe();

    [GeneratedRegex(@"^\s*([A-Za-z][A-Za-z ,]*?)\s+ON\s+([A-Za-z0-9_]+)\.(\*|[A-Za-z0-9_]+)\s*\z", RegexOptions.IgnoreCase)]
    private static partial Regex GrantRe();

    [GeneratedRegex(@"^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\z")]
    private static partial Regex DnsNameRe();
}
