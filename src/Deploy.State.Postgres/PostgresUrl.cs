using Deploy.Core.Model;
using Npgsql;

namespace Deploy.State.Postgres;

/// <summary>
/// A <c>postgres://user[:password]@host[:port]/database[?host=/socket/dir&amp;port=N&amp;sslmode=...]</c> backend URL, as libpq
/// reads it. The password comes from the URL, else PGPASSWORD, else ~/.pgpass (PGPASSFILE); it is never shown.
/// </summary>
public sealed record PostgresUrl(string User, string? Password, string Host, int Port, string Database, string? SslMode)
{
    public static bool Matches(string url) =>
        url.StartsWith("postgres://", StringComparison.Ordinal) || url.StartsWith("postgresql://", StringComparison.Ordinal);

    public static PostgresUrl Parse(string url)
    {
        // libpq allows no host at all (postgres://user@/db, postgres:///db): the socket folder; System.Uri does not
        var noHost = System.Text.RegularExpressions.Regex.Match(url, "^(postgres(?:ql)?://(?:[^/@]*@)?)(?=/|$)");
        var parsed = noHost.Success ? noHost.Groups[1].Value + "socket.invalid" + url[noHost.Length..] : url;
        if (!Matches(url) || !Uri.TryCreate(parsed, UriKind.Absolute, out var u))
            throw new DeployException($"backend URL '{Strip(url)}' is not postgres://user@host:port/database");
        var userInfo = u.UserInfo.Split(':', 2);
        var user = Uri.UnescapeDataString(userInfo[0]);
        string? password = userInfo.Length > 1 ? Uri.UnescapeDataString(userInfo[1]) : null;
        var query = u.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? Uri.UnescapeDataString(p[1]) : "", StringComparer.Ordinal);
        var host = query.GetValueOrDefault("host") ?? (noHost.Success ? "/var/run/postgresql" : Uri.UnescapeDataString(u.Host));
        if (user.Length == 0) user = Environment.GetEnvironmentVariable("PGUSER") ?? Environment.UserName;
        var db = Uri.UnescapeDataString(u.AbsolutePath.Trim('/'));
        var port = query.TryGetValue("port", out var p) && int.TryParse(p, out var qp) ? qp : u.IsDefaultPort || u.Port <= 0 ? 5432 : u.Port;
        return new PostgresUrl(user, password, host, port, db.Length > 0 ? db : user,
            query.GetValueOrDefault("sslmode"));
    }

    /// <summary>The URL without credentials (what stack ls, whoami and every message show).</summary>
    public string Display => Host.StartsWith('/')
        ? $"postgres://{User}@/{Database}?host={Host}" + (Port == 5432 ? "" : $"&port={Port}")
        : $"postgres://{User}@{(Host.Contains(':') ? $"[{Host}]" : Host)}:{Port}/{Database}";

    /// <summary>Replaces the password wherever it would appear in a message.</summary>
    public string Mask(string text) => Password is { Length: > 0 } p ? text.Replace(p, "[secret]", StringComparison.Ordinal) : text;

    public string ConnectionString(bool pooled)
    {
        var b = new NpgsqlConnectionStringBuilder
        {
            Host = Host,
            Port = Port,
            Database = Database,
            Username = User,
            ApplicationName = "nf-deploy",
            Timeout = 5,
            CommandTimeout = 30,
            KeepAlive = 5,
            Pooling = pooled,
        };
        if (Password is not null) b.Password = Password;
        if (SslMode is not null)
            b.SslMode = Enum.TryParse<SslMode>(SslMode, ignoreCase: true, out var m) ? m
                : throw new DeployException($"backend URL {Display}: sslmode '{SslMode}' is not one of {string.Join(", ", Enum.GetNames<SslMode>())}");
        return b.ConnectionString;
    }

    /// <summary>Removes user info from a URL that could not be parsed, for its error message.</summary>
    private static string Strip(string url)
    {
        var at = url.IndexOf('@', StringComparison.Ordinal);
        var scheme = url.IndexOf("://", StringComparison.Ordinal);
        return at > 0 && scheme > 0 && at > scheme ? url[..(scheme + 3)] + "…" + url[at..] : url;
    }
}
