using System.Diagnostics;
using Deploy.State.Postgres;

namespace Deploy.Tests; // also compiled into Deploy.Integration.Tests

/// <summary>
/// The PostgreSQL server of the state-backend specs: the one scripts/test started (NFD_TEST_PG_URL, its data folder in
/// NFD_TEST_PG_DIR; for the lab specs NFD_LAB_PG_URL/NFD_LAB_PG_DIR: each test assembly has a server of its own, since
/// both restart theirs while the other may be running), or, when the specs run alone, one started here with
/// scripts/pg-test-server and stopped on exit.
/// </summary>
public static class PgTestServer
{
    private static readonly string Prefix =
        typeof(PgTestServer).Assembly.GetName().Name == "Deploy.Integration.Tests" ? "NFD_LAB_PG" : "NFD_TEST_PG";

    private static readonly Lazy<(string Url, string Dir)> Server = new(Start);

    public static string Url => Server.Value.Url;

    public static PostgresUrl Parsed => PostgresUrl.Parse(Url);

    /// <summary>The URL without its password (controllers then take it from PGPASSWORD or a password file).</summary>
    public static string UrlWithoutPassword => Url.Replace(":" + Parsed.Password + "@", "@", StringComparison.Ordinal);

    private static (string, string) Start()
    {
        if (Environment.GetEnvironmentVariable(Prefix + "_URL") is { Length: > 0 } url)
            return (url, Environment.GetEnvironmentVariable(Prefix + "_DIR") ?? throw new InvalidOperationException($"{Prefix}_URL is set but {Prefix}_DIR is not"));
        var dir = Path.Combine(Path.GetTempPath(), "nfd-pg-specs-" + Environment.ProcessId);
        var (exit, output) = Script("start", dir);
        if (exit != 0) throw new InvalidOperationException("scripts/pg-test-server start failed:\n" + output);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Script("stop", dir);
        return (output.Trim().Split('\n')[^1], dir);
    }

    /// <summary>pg_ctl restart: every session ends (the server comes back at once).</summary>
    public static void Restart() => PgCtl("-m", "fast", "-w", "restart");

    /// <summary>pg_ctl stop: the server stays down until <see cref="StartAgain"/>.</summary>
    public static void Stop() => PgCtl("-m", "fast", "-w", "stop");

    /// <summary>pg_ctl start, on the address, port and socket folder the server had.</summary>
    public static void StartAgain() =>
        PgCtl("-w", "-o", $"-c listen_addresses=127.0.0.1 -p {Parsed.Port} -k {Server.Value.Dir} -c fsync=off", "start");

    private static void PgCtl(params string[] args)
    {
        var bin = Directory.GetDirectories("/usr/lib/postgresql").Order().Last() + "/bin/pg_ctl";
        var dir = Server.Value.Dir;
        var (exit, output) = Run("runuser", ["-u", "postgres", "--", bin, "-D", Path.Combine(dir, "data"), "-l", Path.Combine(dir, "server.log"), .. args]);
        if (exit != 0) throw new InvalidOperationException($"pg_ctl {args[^1]} failed:\n" + output);
    }

    private static (int, string) Script(string verb, string dir) => Run(Path.Combine(RepoRoot(), "scripts", "pg-test-server"), verb, dir);

    private static string RepoRoot()
    {
        for (var d = AppContext.BaseDirectory; d is not null; d = Path.GetDirectoryName(d))
            if (File.Exists(Path.Combine(d, "scripts", "pg-test-server"))) return d;
        throw new InvalidOperationException("repo root (scripts/pg-test-server) not found");
    }

    private static (int, string) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr);
    }
}
