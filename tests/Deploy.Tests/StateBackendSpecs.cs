using System.Collections.Immutable;
using System.Text.Json;
using AwesomeAssertions;
using Deploy.Core.Model;
using Deploy.Core.State;

namespace Deploy.Tests;

/// <summary>
/// The guarantees every state backend gives, run once per backend (<see cref="FileBackendSpecs"/>,
/// <see cref="PostgresBackendSpecs"/>): checkpoints, the lock between real ./deploy processes, a killed holder,
/// history, export and import into the other backend.
/// </summary>
public abstract class StateBackendSpecs : IDisposable
{
    protected HeldSite Held { get; } = new();

    protected string Stack => Held.Stack;

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>This backend, in this process, for the spec's site.</summary>
    protected abstract IStateBackend Open();

    /// <summary>The environment with which ./deploy processes use this backend for the site.</summary>
    protected abstract IReadOnlyDictionary<string, string> Env { get; }

    /// <summary>The other backend, in process and for ./deploy.</summary>
    protected abstract IStateBackend OpenOther();

    protected abstract IReadOnlyDictionary<string, string> OtherEnv { get; }

    /// <summary>Whether the stack's lock is held, read straight from where the backend keeps it.</summary>
    protected abstract Task<bool> LockedAsync();

    /// <summary>The URL ./deploy must show for this backend.</summary>
    protected abstract string ShownUrl { get; }

    public virtual void Dispose() => Held.Dispose();

    protected StackState Sample(string outputs = "abc") => StackState.Empty(Stack) with
    {
        Updated = DateTimeOffset.Parse("2026-11-29T10:11:12.1234567Z", System.Globalization.CultureInfo.InvariantCulture),
        Resources = [new ResourceRecord($"urn:pulumi:{Stack}::nf-deploy::nfdeploy:fs:File::h1:/etc/x", "nfdeploy:fs:File", "h1", "/etc/x",
            ImmutableSortedDictionary<string, string>.Empty.Add("path", "/etc/x").Add("owner", "root"),
            ImmutableSortedDictionary<string, string>.Empty.Add("sha256", outputs))],
        Hosts = ImmutableSortedDictionary<string, HostRecord>.Empty.Add("h1", new HostRecord("h1", false, HostFacts.Assumed("h1", "127.0.0.1"))),
        PendingRestarts = [new PendingRestart("h1", "kamailio"), new PendingRestart("h1", "freediameter")],
    };

    protected static string Json(StackState s) => CheckpointJson.Serialize(s);

    protected Task<(int Exit, string Out, string Err)> DeployAsync(params string[] args) => BackendCliProcess.RunAsync(Held.Dir, Env, args);

    protected async Task WaitUntilLockedAsync(BackendCliProcess holder)
    {
        var until = DateTime.UtcNow.AddSeconds(60);
        while (!await LockedAsync())
        {
            if (holder.HasExited) throw new InvalidOperationException($"the holder exited before locking:\n{holder.Out}\n{holder.Err}");
            if (DateTime.UtcNow > until) throw new TimeoutException("the holder did not lock the stack in 60 s:\n" + holder.Err);
            await Task.Delay(50, Ct);
        }
    }

    [Fact]
    public async Task A_checkpoint_is_read_back_as_written_with_its_pending_restarts_and_a_newer_one_replaces_it()
    {
        var backend = Open();
        await backend.SaveAsync(Sample(), Ct);
        Json(await backend.LoadAsync(Stack, Ct)).Should().Be(Json(Sample()));
        (await backend.LoadAsync(Stack, Ct)).PendingRestarts.Should().Equal(new PendingRestart("h1", "kamailio"), new PendingRestart("h1", "freediameter"));

        await backend.SaveAsync(Sample("def") with { PendingRestarts = [] }, Ct);
        var back = await backend.LoadAsync(Stack, Ct);
        back.Resources.Single().Outputs["sha256"].Should().Be("def");
        back.PendingRestarts.Should().BeEmpty();
        (await backend.LastUpdateAsync(Stack, Ct)).Should().NotBeNull();

        await backend.DeleteAsync(Stack, Ct);
        (await backend.LoadAsync(Stack, Ct)).Resources.Should().BeEmpty();
        (await backend.LastUpdateAsync(Stack, Ct)).Should().BeNull();
    }

    [Fact]
    public async Task Of_two_ups_started_at_once_one_runs_and_the_other_is_refused_naming_it()
    {
        using var a = new BackendCliProcess(Held.Dir, Env, "up", "--stack", Stack, "--yes");
        using var b = new BackendCliProcess(Held.Dir, Env, "up", "--stack", Stack, "--yes");
        var until = DateTime.UtcNow.AddSeconds(60);
        while (!a.HasExited && !b.HasExited && DateTime.UtcNow < until) await Task.Delay(20, Ct);

        var (refused, holder) = a.HasExited ? (a, b) : (b, a);
        (await refused.ExitAsync(TimeSpan.FromSeconds(5), Ct)).Should().Be(1);
        refused.Err.Should().StartWith($"error: stack {Stack} is locked by 'up' (pid {holder.Pid} on {Environment.MachineName}")
            .And.EndWith("wait for it to finish.\n");
        holder.HasExited.Should().BeFalse("the holder is still trying its host");
        (await LockedAsync()).Should().BeTrue();
    }

    [Fact]
    public async Task A_killed_holder_is_reported_gone_and_cancel_breaks_its_lock_for_the_next_run()
    {
        using (var holder = new BackendCliProcess(Held.Dir, Env, "up", "--stack", Stack, "--yes"))
        {
            await WaitUntilLockedAsync(holder);
            holder.KillHard();
            await holder.ExitAsync(TimeSpan.FromSeconds(10), Ct);
            var (exit, _, err) = await DeployAsync("up", "--stack", Stack, "--yes");
            exit.Should().Be(1);
            err.Should().StartWith($"error: stack {Stack} is locked by 'up' (pid {holder.Pid} on {Environment.MachineName}")
                .And.Contain("that process is gone").And.EndWith($"break the stale lock with `./deploy cancel --stack {Stack}`.\n");
        }

        var cancel = await DeployAsync("cancel", "--stack", Stack);
        cancel.Exit.Should().Be(0);
        cancel.Out.Should().StartWith($"the lock of stack {Stack} was removed");
        (await LockedAsync()).Should().BeFalse();

        Held.Refuse();
        var next = await DeployAsync("up", "--stack", Stack, "--yes");
        next.Err.Should().NotContain("locked");
        next.Out.Should().Contain("h1: FAILED", "the run got past the lock to its host, whose port is closed");
        (await LockedAsync()).Should().BeFalse("the run released its lock");
    }

    [Fact]
    public async Task Every_up_refresh_and_destroy_appends_a_record_that_stack_history_lists_newest_first()
    {
        Held.Refuse();
        var pids = new List<int>();
        foreach (var verb in new[] { "up", "refresh", "destroy" })
        {
            using var p = new BackendCliProcess(Held.Dir, Env, verb == "refresh" ? [verb, "--stack", Stack] : [verb, "--stack", Stack, "--yes"]);
            pids.Add(p.Pid);
            await p.ExitAsync(TimeSpan.FromMinutes(2), Ct);
        }

        var (exit, text, _) = await DeployAsync("stack", "history", "--stack", Stack);
        exit.Should().Be(0);
        var lines = text.TrimEnd('\n').Split('\n');
        lines[0].Should().Match("VERSION*KIND*RESULT*START*DURATION*CHANGES*USER@HOST (PID)*FAILED HOSTS");
        lines.Skip(1).Select(l => string.Join(' ', l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Take(3))).Should()
            .Equal("3 destroy succeeded", "2 refresh failed", "1 update failed");
        lines[2].Should().EndWith(" h1").And.Contain($"{Environment.UserName}@{Environment.MachineName} ({pids[1]})");

        var json = await DeployAsync("stack", "history", "--stack", Stack, "--json");
        var records = JsonSerializer.Deserialize<List<UpdateRecord>>(json.Out, CheckpointJson.Options)!;
        records.Select(r => (r.Version, r.Kind, r.Result, r.Pid)).Should()
            .Equal((3, "destroy", "succeeded", pids[2]), (2, "refresh", "failed", pids[1]), (1, "update", "failed", pids[0]));
        records.Should().AllSatisfy(r =>
        {
            r.User.Should().Be(Environment.UserName);
            r.Host.Should().Be(Environment.MachineName);
            r.EndTime.Should().BeOnOrAfter(r.StartTime);
        });
        records[1].FailedHosts.Should().Equal("h1");
        records[2].FailedHosts.Should().Equal("h1");
        records[1].ResourceChanges.Should().ContainKey("drift");
        (await Open().HistoryAsync(Stack, Ct)).Select(r => r.Version).Should().Equal(3, 2, 1);
    }

    [Fact]
    public async Task A_stack_exported_here_imports_into_the_other_backend_and_a_saved_export_restores_the_checkpoint()
    {
        await Open().SaveAsync(Sample(), Ct);
        var export = await DeployAsync("stack", "export", "--stack", Stack);
        export.Exit.Should().Be(0, export.Err);
        var file = Path.Combine(Held.Dir, "saved.json");
        await File.WriteAllTextAsync(file, export.Out, Ct);
        JsonDocument.Parse(export.Out).RootElement.GetProperty("version").GetInt32().Should().Be(3);

        var import = await BackendCliProcess.RunAsync(Held.Dir, OtherEnv, "stack", "import", "--stack", Stack, "--file", file);
        import.Exit.Should().Be(0, import.Err);
        import.Out.Should().StartWith($"Import complete: stack {Stack} has 1 resources on 1 hosts");
        Json(await OpenOther().LoadAsync(Stack, Ct)).Should().Be(Json(Sample()));

        await Open().SaveAsync(Sample("changed since"), Ct);
        (await DeployAsync("stack", "import", "--stack", Stack, "--file", file)).Exit.Should().Be(0);
        Json(await Open().LoadAsync(Stack, Ct)).Should().Be(Json(Sample()));
        (await LockedAsync()).Should().BeFalse("import released its lock");
    }

    [Fact]
    public async Task An_export_of_another_stack_or_no_export_at_all_is_refused_and_changes_nothing()
    {
        await Open().SaveAsync(Sample(), Ct);
        var other = Path.Combine(Held.Dir, "other.json");
        await File.WriteAllTextAsync(other, CheckpointJson.Serialize(Sample() with { Resources = [Sample().Resources[0] with { Urn = "urn:pulumi:lab::nf-deploy::nfdeploy:fs:File::h1:/etc/x" }] }), Ct);
        var garbage = Path.Combine(Held.Dir, "garbage.json");
        await File.WriteAllTextAsync(garbage, "{\"version\": 3, \"deployment\": [", Ct);

        var wrongStack = await DeployAsync("stack", "import", "--stack", Stack, "--file", other);
        wrongStack.Exit.Should().Be(1);
        wrongStack.Err.Should().Be($"error: {other}: resource 'urn:pulumi:lab::nf-deploy::nfdeploy:fs:File::h1:/etc/x' is not of stack {Stack}: import a stack's export into the stack of that name\n");
        var broken = await DeployAsync("stack", "import", "--stack", Stack, "--file", garbage);
        broken.Exit.Should().Be(1);
        broken.Err.Should().StartWith($"error: {garbage}: not a stack export (line 1, byte ");
        Json(await Open().LoadAsync(Stack, Ct)).Should().Be(Json(Sample()));
    }

    [Fact]
    public async Task Whoami_and_stack_ls_show_the_backend_url()
    {
        var who = await DeployAsync("whoami", "-v");
        who.Should().Be((0, $"User: {Environment.UserName}\nBackend URL: {ShownUrl}\n", ""));
        (await DeployAsync("whoami")).Out.Should().Be(Environment.UserName + "\n");

        await Open().SaveAsync(Sample(), Ct);
        var ls = await DeployAsync("stack", "ls");
        ls.Exit.Should().Be(0, ls.Err);
        ls.Out.Should().StartWith($"backend {ShownUrl}\n").And.MatchRegex($"(?m)^{Stack} +20\\d\\d-");
    }
}
