using Deploy.Core.Model;
using Npgsql;

namespace Deploy.State.Postgres;

/// <summary>
/// The stack's lock: a session-level advisory lock (the server frees it when the holder's session ends: a killed
/// run, a lost controller) and a row in <c>nfd_locks</c> naming the holder. A row whose advisory lock is free is the
/// lock of a run that died: it is reported as stale and removed by <c>./deploy cancel</c>; a live holder's lock is
/// broken only with <c>cancel --force</c>, which also ends its session.
/// </summary>
public sealed partial class PostgresBackend
{
    private const string Key = "hashtextextended(@project || '/' || @stack, 0)";

    private sealed record Holder(string Operation, int Pid, string Host, string User, DateTime Since, int SessionPid)
    {
        public override string ToString() => $"'{Operation}' (pid {Pid} on {Host} as {User}, since {Since:u})";
    }

    public Task<IAsyncDisposable> LockAsync(string stack, string operation, CancellationToken ct) => GuardAsync($"cannot lock stack {stack}", async () =>
    {
        var conn = await OpenAsync(_sessions, ct);
        try
        {
            await using (var c = Cmd($"SELECT pg_try_advisory_lock({Key})", conn, stack: stack))
                if (await c.ExecuteScalarAsync(ct) is not true)
                {
                    var holder = await ReadHolderAsync(conn, stack, ct);
                    throw new DeployException($"stack {stack} is locked by {(holder?.ToString() ?? "a run that is just starting")}; wait for it to finish.");
                }
            if (await ReadHolderAsync(conn, stack, ct) is { } dead)
                throw new DeployException($"stack {stack} is locked by {dead}; that process is gone (its database session ended): " +
                    $"break the stale lock with `./deploy cancel --stack {stack}`.");
            await using var insert = Cmd("""
                INSERT INTO nfd_locks (project, stack, operation, pid, host, username, since, session_pid)
                VALUES (@project, @stack, @operation, @pid, @host, @user, now(), pg_backend_pid()) RETURNING since
                """, conn, stack: stack);
            insert.Parameters.AddWithValue("operation", operation);
            insert.Parameters.AddWithValue("pid", Environment.ProcessId);
            insert.Parameters.AddWithValue("host", Environment.MachineName);
            insert.Parameters.AddWithValue("user", Environment.UserName);
            var since = (DateTime)(await insert.ExecuteScalarAsync(ct))!;
            var held = new HeldLock(this, conn, stack, since);
            _held[stack] = held;
            return (IAsyncDisposable)held;
        }
        catch
        {
            await conn.DisposeAsync(); // ends the session: the advisory lock, if taken, goes with it
            throw;
        }
    });

    public Task<string> BreakLockAsync(string stack, bool force, CancellationToken ct) => GuardAsync($"cannot break the lock of stack {stack}", async () =>
    {
        await using var conn = await OpenAsync(_sessions, ct);
        if (await ReadHolderAsync(conn, stack, ct) is not { } holder)
            return $"stack {stack} was not locked";
        bool free;
        await using (var c = Cmd($"SELECT pg_try_advisory_lock({Key})", conn, stack: stack)) free = await c.ExecuteScalarAsync(ct) is true;
        if (!free && !force)
            throw new DeployException($"stack {stack} is locked by {holder} and that run is alive (its database session is open): " +
                $"wait for it, or break the lock anyway with `./deploy cancel --stack {stack} --force`.");
        await using (var d = Cmd("DELETE FROM nfd_locks WHERE project = @project AND stack = @stack AND session_pid = @session", conn, stack: stack))
        {
            d.Parameters.AddWithValue("session", holder.SessionPid);
            await d.ExecuteNonQueryAsync(ct);
        }
        if (free) return $"the lock of stack {stack} was removed (held by {holder}, whose session was gone)";
        await using (var t = new NpgsqlCommand("SELECT pg_terminate_backend(@session)", conn))
        {
            t.Parameters.AddWithValue("session", holder.SessionPid);
            await t.ExecuteNonQueryAsync(ct);
        }
        return $"the lock of stack {stack} was broken: {holder} no longer holds it (its database session was ended)";
    });

    private async Task<Holder?> ReadHolderAsync(NpgsqlConnection conn, string stack, CancellationToken ct)
    {
        await using var c = Cmd("SELECT operation, pid, host, username, since, session_pid FROM nfd_locks WHERE project = @project AND stack = @stack", conn, stack: stack);
        await using var r = await c.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct)
            ? new Holder(r.GetString(0), r.GetInt32(1), r.GetString(2), r.GetString(3), r.GetDateTime(4), r.GetInt32(5))
            : null;
    }

    /// <summary>A lock this process holds: its session, on which the run's checkpoint writes go.</summary>
    private sealed class HeldLock(PostgresBackend backend, NpgsqlConnection conn, string stack, DateTime since) : IAsyncDisposable
    {
        private readonly SemaphoreSlim _gate = new(1, 1);
        private int _released;

        public async Task<bool> WriteAsync(Func<NpgsqlConnection, NpgsqlTransaction, Task> write, CancellationToken ct)
        {
            await _gate.WaitAsync(ct);
            try
            {
                await using var tx = await conn.BeginTransactionAsync(ct);
                await write(conn, tx);
                await tx.CommitAsync(ct);
                return true;
            }
            finally { _gate.Release(); }
        }

        public async Task CheckStillMineAsync(NpgsqlConnection c, NpgsqlTransaction tx, CancellationToken ct)
        {
            await using var q = backend.Cmd("SELECT count(*) FROM nfd_locks WHERE project = @project AND stack = @stack AND session_pid = pg_backend_pid()", c, tx, stack);
            if (Convert.ToInt64(await q.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture) == 0)
                throw new DeployException($"the lock of stack {stack} is no longer held by this run (it was broken with `./deploy cancel --force`): " +
                    "the checkpoint was not written; the run stops");
        }

        /// <summary>Releases on the lock's session; when that session is gone (the database restarted), removes this
        /// run's row from a new one so that the next run is not told of a stale lock. Never throws.</summary>
        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _released, 1) == 1) return;
            backend._held.TryRemove(new KeyValuePair<string, HeldLock>(stack, this));
            try
            {
                await using var d = backend.Cmd($"DELETE FROM nfd_locks WHERE project = @project AND stack = @stack AND session_pid = pg_backend_pid(); SELECT pg_advisory_unlock({Key})", conn, stack: stack);
                await d.ExecuteNonQueryAsync(CancellationToken.None);
            }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException or IOException)
            {
                await RemoveRowFromNewSessionAsync();
            }
            await conn.DisposeAsync();
        }

        /// <summary>The session was lost, most often because the database restarted, and the run may end while it is
        /// still coming back: tries again for up to <see cref="RowRemovalPatience"/>. If the database stays away the
        /// row stays, and the next run reports it as stale (<c>./deploy cancel</c>).</summary>
        private async Task RemoveRowFromNewSessionAsync()
        {
            var deadline = DateTime.UtcNow + RowRemovalPatience;
            while (true)
            {
                try
                {
                    await using var other = await backend._sessions.OpenConnectionAsync(CancellationToken.None);
                    await using var d = backend.Cmd("DELETE FROM nfd_locks WHERE project = @project AND stack = @stack AND pid = @pid AND host = @host AND since = @since", other, stack: stack);
                    d.Parameters.AddWithValue("pid", Environment.ProcessId);
                    d.Parameters.AddWithValue("host", Environment.MachineName);
                    d.Parameters.AddWithValue("since", since);
                    await d.ExecuteNonQueryAsync(CancellationToken.None);
                    return;
                }
                catch (Exception e) when (e is NpgsqlException or InvalidOperationException or IOException or System.Net.Sockets.SocketException or TimeoutException)
                {
                    if (DateTime.UtcNow >= deadline) return;
                    await Task.Delay(TimeSpan.FromMilliseconds(250), CancellationToken.None);
                }
            }
        }
    }

    /// <summary>How long a run whose lock session was lost keeps trying to remove its lock row before it exits.</summary>
    internal static readonly TimeSpan RowRemovalPatience = TimeSpan.FromSeconds(20);
}
