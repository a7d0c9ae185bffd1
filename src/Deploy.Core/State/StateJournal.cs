namespace Deploy.Core.State;

/// <summary>
/// A run's state while its hosts finish, written with group commit. A change is made at once, one at a time, and its
/// caller then waits until a write that includes it is on disk: what a host's step did reaches the state file before the
/// run goes on, as if each change were written on its own. Writes run one at a time, each of the newest state, so the
/// callers whose changes were made while one write ran share the next one: 500 hosts finishing cost a few dozen writes of
/// the whole state file instead of 500 (each of them megabytes, flushed to disk), and the file never goes back to an
/// older state. Not cancellable: once a step ran, what it means for the next run must be recorded.
/// </summary>
public sealed class StateJournal(IStateStore store, StackState state, Engine.RunMetrics? metrics = null)
{
    private readonly SemaphoreSlim _change = new(1, 1);
    private readonly SemaphoreSlim _write = new(1, 1);
    private StackState _state = state;
    private long _made;
    private long _written;

    /// <summary>The newest state, written or about to be.</summary>
    public StackState State => Volatile.Read(ref _state);

    /// <summary>How many times the state file was written through this journal (also the count of the "state" phase).</summary>
    public int Writes { get; private set; }

    /// <summary>Replaces the state without writing it (before the run's rollout starts: the state it was planned from).</summary>
    public void Reset(StackState state) => Volatile.Write(ref _state, state);

    /// <summary>Applies <paramref name="change"/> to the newest state (null: nothing to record) and returns once a write
    /// holding it is on disk. A failed write is thrown to the caller that made it; a caller whose change it held writes
    /// the state again itself.</summary>
    public async Task ChangeAsync(Func<StackState, StackState?> change)
    {
        long mine;
        await _change.WaitAsync(CancellationToken.None);
        try
        {
            if (change(_state) is not { } next) return;
            Volatile.Write(ref _state, next);
            mine = ++_made;
        }
        finally { _change.Release(); }

        await _write.WaitAsync(CancellationToken.None);
        try
        {
            // a write that started after this change was made holds it already
            if (Interlocked.Read(ref _written) >= mine) return;
            StackState snapshot;
            long made;
            await _change.WaitAsync(CancellationToken.None);
            try { (snapshot, made) = (_state, _made); }
            finally { _change.Release(); }
            using (metrics is null ? default : metrics.Time("state"))
                await store.SaveAsync(snapshot with { Updated = DateTimeOffset.UtcNow }, CancellationToken.None);
            Writes++;
            Interlocked.Exchange(ref _written, made);
        }
        finally { _write.Release(); }
    }
}
