using System.Collections.Concurrent;
using System.Collections.Immutable;
using AwesomeAssertions;
using Deploy.Core.State;

namespace Deploy.Tests;

/// <summary>
/// The state file during a rollout (issue 17): each host's outcome is on disk before that host is reported done, yet hosts
/// that finish while the state is being written share the next write (group commit), so a fleet costs a few writes of
/// the whole state file, not one per host. The store here holds each write until the spec lets it finish.
/// </summary>
public sealed class StateJournalSpecs
{
    private static readonly StackState Empty = StackState.Empty("journal");

    private static Func<StackState, StackState?> Restart(string host) =>
        s => s with { PendingRestarts = s.PendingRestarts.Add(new PendingRestart(host, "kamailio")) };

    private static string[] Hosts(StackState s) => [.. s.PendingRestarts.Select(p => p.Host)];

    [Fact]
    public async Task Hosts_that_finish_while_the_state_is_written_share_the_next_write_and_each_waits_until_its_change_is_on_disk()
    {
        var store = new HeldStore();
        var journal = new StateJournal(store, Empty);

        var first = journal.ChangeAsync(Restart("h1"));
        await store.StartedAsync(1);
        var others = new[] { "h2", "h3", "h4" }.Select(h => journal.ChangeAsync(Restart(h))).ToArray();
        store.Finish();
        await first;
        await store.StartedAsync(2);

        others.Should().OnlyContain(t => !t.IsCompleted, "their changes are not on disk until the second write ends");
        store.Finish();
        await Task.WhenAll(others);

        store.Saved.Select(Hosts).Should().BeEquivalentTo(new[] { new[] { "h1" }, ["h1", "h2", "h3", "h4"] },
            o => o.WithStrictOrdering());
        journal.Writes.Should().Be(2);
        Hosts(journal.State).Should().Equal("h1", "h2", "h3", "h4");
    }

    [Fact]
    public async Task A_host_where_nothing_moved_writes_nothing()
    {
        var store = new HeldStore { Hold = false };
        var journal = new StateJournal(store, Empty);

        await journal.ChangeAsync(_ => null);

        store.Saved.Should().BeEmpty();
        journal.Writes.Should().Be(0);
    }

    [Fact]
    public async Task A_failed_write_fails_the_host_that_made_it_and_the_hosts_waiting_behind_it_write_their_changes_themselves()
    {
        var store = new HeldStore();
        var journal = new StateJournal(store, Empty);

        var first = journal.ChangeAsync(Restart("h1"));
        await store.StartedAsync(1);
        var second = journal.ChangeAsync(Restart("h2"));
        store.Fail(new IOException("No space left on device"));

        await first.Invoking(t => t).Should().ThrowAsync<IOException>();
        await store.StartedAsync(2);
        store.Finish();
        await second;

        store.Saved.Select(Hosts).Should().ContainSingle().Which.Should().Equal("h1", "h2");
    }

    /// <summary>A state store whose writes wait until the spec finishes (or fails) them, one at a time.</summary>
    private sealed class HeldStore : IStateStore
    {
        private readonly ConcurrentQueue<TaskCompletionSource> _held = new();
        private int _started;

        public bool Hold { get; init; } = true;

        public ConcurrentQueue<StackState> SavedQueue { get; } = new();

        public ImmutableArray<StackState> Saved => [.. SavedQueue];

        public async Task StartedAsync(int writes)
        {
            for (var i = 0; Volatile.Read(ref _started) < writes; i++)
            {
                if (i > 2000) throw new TimeoutException($"write {writes} never started");
                await Task.Delay(5, TestContext.Current.CancellationToken);
            }
        }

        public void Finish() => Next().SetResult();

        public void Fail(Exception e) => Next().SetException(e);

        private TaskCompletionSource Next() => _held.TryDequeue(out var t) ? t : throw new InvalidOperationException("no write is held");

        public async Task SaveAsync(StackState state, CancellationToken ct)
        {
            if (Hold)
            {
                var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _held.Enqueue(held);
                Interlocked.Increment(ref _started);
                await held.Task;
            }
            SavedQueue.Enqueue(state);
        }

        public Task<StackState> LoadAsync(string stack, CancellationToken ct) => Task.FromResult(Empty);

        public Task DeleteAsync(string stack, CancellationToken ct) => Task.CompletedTask;

        public Task<IAsyncDisposable> LockAsync(string stack, string operation, CancellationToken ct) => throw new NotSupportedException();
    }
}
