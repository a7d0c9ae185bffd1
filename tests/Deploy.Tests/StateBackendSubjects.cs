using AwesomeAssertions;
using Deploy.Core.Model;
using Deploy.Core.State;
using Deploy.State.Postgres;
using Npgsql;

namespace Deploy.Tests;

/// <summary>The backend specs on the default backend: the project's <c>.pulumi/</c> folder.</summary>
public sealed class FileBackendSpecs : StateBackendSpecs
{
    protected override IStateBackend Open() => new FileBackend(Held.Dir);

    protected override IReadOnlyDictionary<string, string> Env => new Dictionary<string, string>();

    protected override IStateBackend OpenOther() => PostgresBackendSpecs.Shared;

    protected override IReadOnlyDictionary<string, string> OtherEnv => new Dictionary<string, string> { ["PULUMI_BACKEND_URL"] = PgTestServer.Url };

    /// <summary>The lock file exists and names its holder (it is created empty, then written).</summary>
    protected override async Task<bool> LockedAsync()
    {
        var path = Path.Combine(Held.Dir, ".pulumi", "locks", "nf-deploy", Stack + ".json");
        try { return (await File.ReadAllTextAsync(path, Ct)).TrimEnd().EndsWith('}'); }
        catch (FileNotFoundException) { return false; }
        catch (DirectoryNotFoundException) { return false; }
        catch (IOException) { return false; } // being written by its holder
    }

    protected override string ShownUrl => "file://" + Held.Dir;

    [Fact]
    public async Task History_is_kept_as_pulumis_file_backend_keeps_it()
    {
        var backend = Open();
        await backend.AppendHistoryAsync(Stack, UpdateRecord.Start("update") with { Result = "succeeded" }, Ct);
        await backend.AppendHistoryAsync(Stack, UpdateRecord.Start("refresh") with { Result = "failed" }, Ct);

        Directory.GetFiles(Path.Combine(Held.Dir, ".pulumi", "history", "nf-deploy", Stack)).Select(Path.GetFileName).Should()
            .HaveCount(2).And.AllSatisfy(f => f.Should().MatchRegex($"^{Stack}-00000[12]-[0-9]+\\.history\\.json$"));
        (await backend.HistoryAsync(Stack, Ct)).Select(r => (r.Version, r.Kind)).Should().Equal((2, "refresh"), (1, "update"));
    }
}

/// <summary>The backend specs on PostgreSQL (the server of <see cref="PgTestServer"/>), chosen by <c>backend: url:</c> in
/// Pulumi.yaml with the password in PGPASSWORD; and what only a database backend has to show.</summary>
public sealed class PostgresBackendSpecs : StateBackendSpecs
{
    private static readonly Lazy<PostgresBackend> SharedBackend = new(() => new PostgresBackend(PgTestServer.Parsed, "nf-deploy"));

    public static PostgresBackend Shared => SharedBackend.Value;

    public PostgresBackendSpecs() => Held.Site.Append("Pulumi.yaml", $"backend:\n  url: {PgTestServer.UrlWithoutPassword}\n");

    private string OtherDir => Path.Combine(Held.Dir, "elsewhere");

    protected override IStateBackend Open() => Shared;

    protected override IReadOnlyDictionary<string, string> Env => new Dictionary<string, string> { ["PGPASSWORD"] = PgTestServer.Parsed.Password! };

    protected override IStateBackend OpenOther() => new FileBackend(OtherDir);

    protected override IReadOnlyDictionary<string, string> OtherEnv => new Dictionary<string, string> { ["PULUMI_BACKEND_URL"] = "file://" + OtherDir };

    protected override async Task<bool> LockedAsync()
    {
        await using var conn = new NpgsqlConnection(PgTestServer.Parsed.ConnectionString(pooled: false));
        await conn.OpenAsync(Ct);
        await using var c = new NpgsqlCommand("SELECT count(*) FROM nfd_locks WHERE project = 'nf-deploy' AND stack = @s", conn);
        c.Parameters.AddWithValue("s", Stack);
        return (long)(await c.ExecuteScalarAsync(Ct))! > 0;
    }

    protected override string ShownUrl => PgTestServer.Parsed.Display;

    [Fact]
    public async Task A_live_holder_is_not_broken_by_cancel_but_by_cancel_force_and_its_next_checkpoint_is_refused()
    {
        await using var holder = new PostgresBackend(PgTestServer.Parsed, "nf-deploy");
        var held = await holder.LockAsync(Stack, "up", Ct);
        await holder.SaveAsync(Sample(), Ct);

        var cancel = await DeployAsync("cancel", "--stack", Stack);
        cancel.Exit.Should().Be(1);
        cancel.Err.Should().Be($"error: stack {Stack} is locked by 'up' (pid {Environment.ProcessId} on {Environment.MachineName} as {Environment.UserName}, " +
            $"since {cancel.Err.Split("since ")[1].Split(')')[0]}) and that run is alive (its database session is open): wait for it, or break the lock anyway with `./deploy cancel --stack {Stack} --force`.\n");
        (await LockedAsync()).Should().BeTrue();

        var force = await DeployAsync("cancel", "--stack", Stack, "--force");
        force.Exit.Should().Be(0, force.Err);
        force.Out.Should().StartWith($"the lock of stack {Stack} was broken: 'up' (pid {Environment.ProcessId}");
        (await LockedAsync()).Should().BeFalse();

        var write = () => holder.SaveAsync(Sample("after the break"), Ct);
        (await write.Should().ThrowAsync<DeployException>()).Which.Message.Should()
            .StartWith($"state backend {ShownUrl}: the checkpoint of stack {Stack} could not be written; the run stops");
        await held.DisposeAsync();
        Json(await Shared.LoadAsync(Stack, Ct)).Should().Be(Json(Sample()), "the write after the break did not land");
    }

    [Fact]
    public async Task An_unreachable_database_is_one_clear_error_naming_the_backend_and_never_the_password()
    {
        int closedPort;
        using (var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0)) { l.Start(); closedPort = ((System.Net.IPEndPoint)l.LocalEndpoint).Port; }
        var env = new Dictionary<string, string> { ["PULUMI_BACKEND_URL"] = $"postgres://nfd:s3cr3t-pw@127.0.0.1:{closedPort}/nfd" };

        var up = await BackendCliProcess.RunAsync(Held.Dir, env, "up", "--stack", Stack, "--yes");
        up.Exit.Should().Be(1);
        up.Err.Should().Be($"error: state backend postgres://nfd@127.0.0.1:{closedPort}/nfd: cannot lock stack {Stack}: Failed to connect to 127.0.0.1:{closedPort} (Connection refused)\n");
        var who = await BackendCliProcess.RunAsync(Held.Dir, env, "whoami", "-v");
        who.Out.Should().EndWith($"Backend URL: postgres://nfd@127.0.0.1:{closedPort}/nfd\n");
        var wrong = await BackendCliProcess.RunAsync(Held.Dir, new Dictionary<string, string> { ["PGPASSWORD"] = "s3cr3t-pw" }, "stack", "ls");
        wrong.Exit.Should().Be(1);
        wrong.Err.Should().Be($"error: state backend {ShownUrl}: cannot list the stacks: 28P01: password authentication failed for user \"nfd\"\n");
        (up.Out + up.Err + who.Out + who.Err + wrong.Out + wrong.Err).Should().NotContain("s3cr3t-pw");
    }

    [Fact]
    public async Task The_password_may_come_from_a_password_file_as_libpq_reads_it()
    {
        var u = PgTestServer.Parsed;
        var passfile = Path.Combine(Held.Dir, "pgpass");
        await File.WriteAllTextAsync(passfile, $"# host:port:database:user:password\n{u.Host}:{u.Port}:{u.Database}:{u.User}:{u.Password}\n", Ct);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(passfile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await Shared.SaveAsync(Sample(), Ct);

        var ls = await BackendCliProcess.RunAsync(Held.Dir, new Dictionary<string, string> { ["PGPASSFILE"] = passfile }, "stack", "ls");

        ls.Exit.Should().Be(0, ls.Err);
        ls.Out.Should().MatchRegex($"(?m)^{Stack} +20\\d\\d-");
    }
}
