using AwesomeAssertions;
using Deploy.Core.State;
using Deploy.State.Postgres;
using Deploy.Tests;
using Npgsql;

namespace Deploy.Integration.Tests;

/// <summary>The lab's Kamailio cluster (stack `it`) with its state in PostgreSQL (<c>backend: url:</c> in Pulumi.yaml,
/// the password in PGPASSWORD), driven by real ./deploy processes as two operators or CI jobs would.</summary>
public sealed class PostgresLab : IAsyncLifetime
{
    public LabSite Site { get; } = new(groups: ["kamailio"]);

    public Dictionary<string, string> Env { get; } = new() { ["PGPASSWORD"] = PgTestServer.Parsed.Password! };

    public LabSite.Run FirstUp { get; private set; } = new(-1, "", "");

    public async ValueTask InitializeAsync()
    {
        Site.Write("Pulumi.yaml", Site.Read("Pulumi.yaml") + $"backend:\n  url: {PgTestServer.UrlWithoutPassword}\n");
        using (var docker = new Deploy.Lab.DockerLabProvider())
            await docker.DestroyAsync(Site.Stack, TestContext.Current.CancellationToken);
        await using (var db = new PostgresBackend(PgTestServer.Parsed, "nf-deploy"))
            await db.LastUpdateAsync("it", TestContext.Current.CancellationToken); // makes the tables if this is the first use
        await using (var conn = new NpgsqlConnection(PgTestServer.Parsed.ConnectionString(pooled: false)))
        {
            await conn.OpenAsync(TestContext.Current.CancellationToken);
            await using var c = new NpgsqlCommand(
                "DELETE FROM nfd_stacks WHERE stack = 'it'; DELETE FROM nfd_locks WHERE stack = 'it'; DELETE FROM nfd_history WHERE stack = 'it'", conn);
            await c.ExecuteNonQueryAsync(TestContext.Current.CancellationToken); // a previous run's stack `it`, if any
        }
        FirstUp = await DeployAsync("up", "--stack", Site.Stack, "--yes");
    }

    public Task<LabSite.Run> DeployAsync(params string[] args) => DeployWithAsync(Env, args);

    public async Task<LabSite.Run> DeployWithAsync(IReadOnlyDictionary<string, string> env, params string[] args)
    {
        var (exit, o, e) = await CliProcess.RunAsync(Site.Dir, env, TestContext.Current.CancellationToken, args);
        return new LabSite.Run(exit, o, e);
    }

    public async ValueTask DisposeAsync()
    {
        await DeployAsync("cancel", "--stack", Site.Stack, "--force");
        var destroy = await DeployAsync("destroy", "--stack", Site.Stack, "--yes");
        if (destroy.Exit != 0)
            using (var docker = new Deploy.Lab.DockerLabProvider())
                await docker.DestroyAsync(Site.Stack, CancellationToken.None);
        Site.Dispose();
    }
}

[CollectionDefinition("postgres-lab")]
public sealed class PostgresLabCollection : ICollectionFixture<PostgresLab>;

[Collection("postgres-lab")]
public sealed class PostgresBackendLabSpecs(PostgresLab lab)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private LabSite Site => lab.Site;

    [Fact]
    public async Task The_first_up_is_recorded_in_the_database_with_what_it_created()
    {
        lab.FirstUp.Exit.Should().Be(0, lab.FirstUp.Out + lab.FirstUp.Err);
        await using var db = new PostgresBackend(PgTestServer.Parsed, "nf-deploy");
        (await db.LoadAsync("it", Ct)).Hosts.Keys.Should().Equal("kamailio-1", "kamailio-2", "kamailio-3");
        var first = (await db.HistoryAsync("it", Ct)).Last();
        (first.Version, first.Kind, first.Result).Should().Be((1, "update", "succeeded"));
        first.ResourceChanges.GetValueOrDefault("create").Should().BeGreaterThan(10);
        File.Exists(Path.Combine(Site.Dir, ".pulumi", "stacks", "nf-deploy", "it.json")).Should().BeFalse("the state is in the database, not in the project");
    }

    [Fact]
    public async Task Of_two_ups_started_at_once_exactly_one_runs_and_the_other_is_refused_naming_it()
    {
        using var a = new CliProcess(Site.Dir, lab.Env, "up", "--stack", Site.Stack, "--yes");
        using var b = new CliProcess(Site.Dir, lab.Env, "up", "--stack", Site.Stack, "--yes");
        var exits = await Task.WhenAll(a.ExitAsync(TimeSpan.FromMinutes(5), Ct), b.ExitAsync(TimeSpan.FromMinutes(5), Ct));

        exits.Order().Should().Equal(0, 1);
        var (ran, refused) = exits[0] == 0 ? (a, b) : (b, a);
        refused.Err.Should().StartWith($"error: stack it is locked by 'up' (pid {ran.Pid} on {Environment.MachineName} as {Environment.UserName}, since ")
            .And.EndWith("wait for it to finish.\n");
        ran.Out.Should().Contain("kamailio-1: ok").And.Contain("kamailio-3: ok");
        await using var db = new PostgresBackend(PgTestServer.Parsed, "nf-deploy");
        (await db.HistoryAsync("it", Ct)).Where(r => r.Pid == ran.Pid || r.Pid == refused.Pid).Select(r => (r.Pid, r.Result))
            .Should().Equal([(ran.Pid, "succeeded")], "only the run that held the lock is in the history");
    }

    [Fact]
    public async Task The_database_restarted_mid_run_stops_the_run_with_a_clear_error_and_the_next_up_converges()
    {
        var template = Site.Read("templates/kamailio/kamailio.cfg.sbn");
        Site.Write("templates/kamailio/kamailio.cfg.sbn", template.Replace("debug=2\n", "debug=2\n# restarted under a run\n"));
        try
        {
            using (var run = new CliProcess(Site.Dir, lab.Env, "up", "--stack", Site.Stack, "--yes"))
            {
                await run.WaitForLogAsync("~ nfdeploy:fs:File /etc/kamailio/kamailio.cfg", TimeSpan.FromMinutes(3), Ct);
                PgTestServer.Restart();
                (await run.ExitAsync(TimeSpan.FromMinutes(5), Ct)).Should().Be(1, run.Out + run.Err);
                run.Err.Should().MatchRegex(@"(?m)^error: state backend postgres://nfd@127\.0\.0\.1:\d+/nfd: the checkpoint of stack it could not be written; the run stops")
                    .And.NotContain("   at ", "no stack trace").And.NotContain(PgTestServer.Parsed.Password!);
            }
            var next = await lab.DeployAsync("up", "--stack", Site.Stack, "--yes");
            next.Exit.Should().Be(0, next.Out + next.Err);
            foreach (var (name, _) in LabSite.Kamailio) next.Out.Should().Contain($"{name}: ok");
            foreach (var (name, _) in LabSite.Kamailio)
                (await Site.Sh(name, "grep -c 'restarted under a run' /etc/kamailio/kamailio.cfg")).Trim().Should().Be("1");
            var clean = await lab.DeployAsync("preview", "--stack", Site.Stack, "--expect-no-changes");
            clean.Exit.Should().Be(0, clean.Out + clean.Err);
            await using var db = new PostgresBackend(PgTestServer.Parsed, "nf-deploy");
            (await db.LoadAsync("it", Ct)).PendingRestarts.Should().BeEmpty("every restart made due was made");
        }
        finally
        {
            Site.Write("templates/kamailio/kamailio.cfg.sbn", template);
            var restore = await lab.DeployAsync("up", "--stack", Site.Stack, "--yes");
            restore.Exit.Should().Be(0, restore.Out + restore.Err);
        }
    }

    [Fact]
    public async Task The_stack_exported_from_postgres_imports_into_the_file_backend_and_back_and_preview_expects_no_changes()
    {
        var fileEnv = new Dictionary<string, string> { ["PULUMI_BACKEND_URL"] = "file://" + Path.Combine(Site.Dir, "moved") };
        var export = await lab.DeployAsync("stack", "export", "--stack", Site.Stack, "--file", Path.Combine(Site.Dir, "it.json"));
        export.Exit.Should().Be(0, export.Err);

        var import = await lab.DeployWithAsync(fileEnv, "stack", "import", "--stack", Site.Stack, "--file", Path.Combine(Site.Dir, "it.json"));
        import.Exit.Should().Be(0, import.Err);
        File.Exists(Path.Combine(Site.Dir, "moved", ".pulumi", "stacks", "nf-deploy", "it.json")).Should().BeTrue();
        var onFile = await lab.DeployWithAsync(fileEnv, "preview", "--stack", Site.Stack, "--expect-no-changes");
        onFile.Exit.Should().Be(0, onFile.Out + onFile.Err);

        var back = await lab.DeployWithAsync(fileEnv, "stack", "export", "--stack", Site.Stack);
        await File.WriteAllTextAsync(Path.Combine(Site.Dir, "back.json"), back.Out, Ct);
        (await lab.DeployAsync("stack", "import", "--stack", Site.Stack, "--file", Path.Combine(Site.Dir, "back.json"))).Exit.Should().Be(0);
        var onDb = await lab.DeployAsync("preview", "--stack", Site.Stack, "--expect-no-changes");
        onDb.Exit.Should().Be(0, onDb.Out + onDb.Err);
        CheckpointJson.Parse(back.Out, "it", "back.json").Resources.Should().NotBeEmpty();
    }
}
