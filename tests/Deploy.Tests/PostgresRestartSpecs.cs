using AwesomeAssertions;
using Deploy.Core.Model;
using Deploy.Core.State;
using Deploy.State.Postgres;

namespace Deploy.Tests;

/// <summary>Specs that restart the database server: they run alone (no other spec's session is cut).</summary>
[CollectionDefinition(nameof(DatabaseRestarts), DisableParallelization = true)]
public sealed class DatabaseRestarts;

[Collection(nameof(DatabaseRestarts))]
public sealed class PostgresRestartSpecs
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_database_restarted_under_a_run_stops_it_at_its_next_checkpoint_and_leaves_the_stack_free_for_the_next_run()
    {
        var stack = "r" + Guid.NewGuid().ToString("N")[..10];
        var before = StackState.Empty(stack) with { Updated = DateTimeOffset.UtcNow, PendingRestarts = [new PendingRestart("h1", "kamailio")] };
        await using var run = new PostgresBackend(PgTestServer.Parsed, "nf-deploy");
        var held = await run.LockAsync(stack, "up", Ct);
        await run.SaveAsync(before, Ct);

        PgTestServer.Restart();

        var write = () => run.SaveAsync(before with { PendingRestarts = [] }, Ct);
        var error = (await write.Should().ThrowAsync<DeployException>()).Which.Message;
        error.Should().StartWith($"state backend {PgTestServer.Parsed.Display}: the checkpoint of stack {stack} could not be written; the run stops " +
            "(the hosts keep what was applied: run it again once the database is back): ");
        error.Should().NotContain(PgTestServer.Parsed.Password!);
        await held.DisposeAsync(); // its session is gone: the row is removed from a new one

        await using var next = new PostgresBackend(PgTestServer.Parsed, "nf-deploy");
        await using (await next.LockAsync(stack, "up", Ct))
            (await next.LoadAsync(stack, Ct)).PendingRestarts.Should().Equal([new PendingRestart("h1", "kamailio")], "the last checkpoint written before the restart is kept whole");
    }

    [Fact]
    public async Task A_run_that_ends_while_its_database_is_still_down_frees_the_stack_once_the_database_is_back()
    {
        var stack = "r" + Guid.NewGuid().ToString("N")[..10];
        await using var run = new PostgresBackend(PgTestServer.Parsed, "nf-deploy");
        var held = await run.LockAsync(stack, "up", Ct);
        await run.SaveAsync(StackState.Empty(stack) with { Updated = DateTimeOffset.UtcNow }, Ct);

        PgTestServer.Stop();
        Task released;
        try
        {
            released = held.DisposeAsync().AsTask(); // its session is gone and no new one can be opened yet
            await Task.Delay(TimeSpan.FromSeconds(2), Ct);
            released.IsCompleted.Should().BeFalse("the run waits for the database to come back before it exits");
        }
        finally { PgTestServer.StartAgain(); }
        await released.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        await using var next = new PostgresBackend(PgTestServer.Parsed, "nf-deploy");
        await using (await next.LockAsync(stack, "up", Ct))
            (await next.LoadAsync(stack, Ct)).Stack.Should().Be(stack, "the next run takes the lock: no stale row was left");
    }
}
