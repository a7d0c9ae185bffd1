using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Net.Sockets;
using System.Text.Json;
using Deploy.Core.Model;
using Deploy.Core.State;
using Npgsql;

namespace Deploy.State.Postgres;

/// <summary>
/// Stacks in a PostgreSQL database, keyed by project and stack: <c>nfd_stacks</c> (the checkpoint, as
/// <c>stack export</c> writes it, one row per stack), <c>nfd_locks</c> (who runs) with a session-level advisory lock
/// that the server frees when the holder's session ends, and <c>nfd_history</c> (one row per run).
/// Each checkpoint write is one transaction; a run holding the lock writes on the lock's own session and checks,
/// in that transaction, that the lock is still its own.
/// </summary>
public sealed partial class PostgresBackend : IStateBackend, IAsyncDisposable
{
    private readonly PostgresUrl _url;
    private readonly string _project;
    private readonly NpgsqlDataSource _pool;
    private readonly NpgsqlDataSource _sessions; // unpooled: advisory locks live as long as the session
    private readonly ConcurrentDictionary<string, HeldLock> _held = new(StringComparer.Ordinal);
    private volatile bool _schemaReady;

    public PostgresBackend(PostgresUrl url, string project)
    {
        _url = url;
        _project = project;
        // Unpooled: a run opens a handful of connections, and a database restart must leave no dead pooled one behind.
        _pool = NpgsqlDataSource.Create(url.ConnectionString(pooled: false));
        _sessions = _pool;
    }

    public string DisplayUrl => _url.Display;

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS nfd_stacks (project text NOT NULL, stack text NOT NULL, checkpoint jsonb NOT NULL,
            updated timestamptz NOT NULL, writes bigint NOT NULL DEFAULT 1, PRIMARY KEY (project, stack));
        CREATE TABLE IF NOT EXISTS nfd_locks (project text NOT NULL, stack text NOT NULL, operation text NOT NULL,
            pid integer NOT NULL, host text NOT NULL, username text NOT NULL, since timestamptz NOT NULL,
            session_pid integer NOT NULL, PRIMARY KEY (project, stack));
        CREATE TABLE IF NOT EXISTS nfd_history (project text NOT NULL, stack text NOT NULL, version integer NOT NULL,
            record jsonb NOT NULL, PRIMARY KEY (project, stack, version));
        """;

    /// <summary>The tables, created on first use (under a transaction-level advisory lock: two first runs may race).</summary>
    private async Task<NpgsqlConnection> OpenAsync(NpgsqlDataSource source, CancellationToken ct)
    {
        var conn = await source.OpenConnectionAsync(ct);
        if (_schemaReady) return conn;
        await using (var tx = await conn.BeginTransactionAsync(ct))
        {
            await using (var c = new NpgsqlCommand("SELECT pg_advisory_xact_lock(7446830216)", conn, tx)) await c.ExecuteNonQueryAsync(ct);
            await using (var c = new NpgsqlCommand(Schema, conn, tx)) await c.ExecuteNonQueryAsync(ct);
            await tx.CommitAsync(ct);
        }
        _schemaReady = true;
        return conn;
    }

    /// <summary>Database errors become one clear line naming the backend (never the password), not a stack trace.</summary>
    private async Task<T> GuardAsync<T>(string what, Func<Task<T>> action)
    {
        try { return await action(); }
        catch (Exception e) when (e is NpgsqlException or SocketException or TimeoutException or IOException or InvalidOperationException { Source: "Npgsql" })
        {
            var detail = e.InnerException is { } inner && !e.Message.Contains(inner.Message, StringComparison.Ordinal) ? $"{e.Message} ({inner.Message})" : e.Message;
            throw new DeployException(_url.Mask($"state backend {DisplayUrl}: {what}: {detail}"), e);
        }
    }

    private NpgsqlCommand Cmd(string sql, NpgsqlConnection conn, NpgsqlTransaction? tx = null, string? stack = null)
    {
        var c = new NpgsqlCommand(sql, conn, tx);
        c.Parameters.AddWithValue("project", _project);
        if (stack is not null) c.Parameters.AddWithValue("stack", stack);
        return c;
    }

    public Task<StackState> LoadAsync(string stack, CancellationToken ct) => GuardAsync($"cannot read the checkpoint of stack {stack}", async () =>
    {
        await using var conn = await OpenAsync(_pool, ct);
        await using var c = Cmd("SELECT checkpoint::text FROM nfd_stacks WHERE project = @project AND stack = @stack", conn, stack: stack);
        return await c.ExecuteScalarAsync(ct) is string json
            ? CheckpointJson.Parse(json, stack, $"{DisplayUrl} (stack {stack})")
            : StackState.Empty(stack);
    });

    public Task SaveAsync(StackState state, CancellationToken ct) => GuardAsync(
        $"the checkpoint of stack {state.Stack} could not be written; the run stops (the hosts keep what was applied: run it again once the database is back)",
        async () =>
        {
            var json = CheckpointJson.Serialize(state);
            if (_held.TryGetValue(state.Stack, out var held))
                return await held.WriteAsync(async (conn, tx) =>
                {
                    await held.CheckStillMineAsync(conn, tx, ct);
                    await UpsertAsync(conn, tx, state, json, ct);
                }, ct);
            await using var c2 = await OpenAsync(_pool, ct);
            await using var tx2 = await c2.BeginTransactionAsync(ct);
            await UpsertAsync(c2, tx2, state, json, ct);
            await tx2.CommitAsync(ct);
            return true;
        });

    private async Task UpsertAsync(NpgsqlConnection conn, NpgsqlTransaction tx, StackState state, string json, CancellationToken ct)
    {
        await using var c = Cmd("""
            INSERT INTO nfd_stacks (project, stack, checkpoint, updated) VALUES (@project, @stack, @checkpoint::jsonb, now())
            ON CONFLICT (project, stack) DO UPDATE SET checkpoint = EXCLUDED.checkpoint, updated = now(), writes = nfd_stacks.writes + 1
            """, conn, tx, state.Stack);
        c.Parameters.AddWithValue("checkpoint", json);
        await c.ExecuteNonQueryAsync(ct);
    }

    public Task DeleteAsync(string stack, CancellationToken ct) => GuardAsync($"cannot delete the checkpoint of stack {stack}", async () =>
    {
        if (_held.TryGetValue(stack, out var held))
            return await held.WriteAsync(async (conn, tx) =>
            {
                await held.CheckStillMineAsync(conn, tx, ct);
                await using var c = Cmd("DELETE FROM nfd_stacks WHERE project = @project AND stack = @stack", conn, tx, stack);
                await c.ExecuteNonQueryAsync(ct);
            }, ct);
        await using var conn = await OpenAsync(_pool, ct);
        await using var d = Cmd("DELETE FROM nfd_stacks WHERE project = @project AND stack = @stack", conn, stack: stack);
        await d.ExecuteNonQueryAsync(ct);
        return true;
    });

    public Task<DateTimeOffset?> LastUpdateAsync(string stack, CancellationToken ct) => GuardAsync("cannot list the stacks", async () =>
    {
        await using var conn = await OpenAsync(_pool, ct);
        await using var c = Cmd("SELECT updated FROM nfd_stacks WHERE project = @project AND stack = @stack", conn, stack: stack);
        return await c.ExecuteScalarAsync(ct) is DateTime t ? new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)) : (DateTimeOffset?)null;
    });

    public Task<UpdateRecord> AppendHistoryAsync(string stack, UpdateRecord record, CancellationToken ct) => GuardAsync($"cannot record the run in the history of stack {stack}", async () =>
    {
        await using var conn = await OpenAsync(_pool, ct);
        for (var attempt = 0; ; attempt++)
        {
            await using var c = Cmd("""
                INSERT INTO nfd_history (project, stack, version, record)
                SELECT @project, @stack, COALESCE(MAX(version), 0) + 1, @record::jsonb FROM nfd_history WHERE project = @project AND stack = @stack
                RETURNING version
                """, conn, stack: stack);
            c.Parameters.AddWithValue("record", JsonSerializer.Serialize(record, CheckpointJson.Options));
            try { return record with { Version = Convert.ToInt32(await c.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture) }; }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation && attempt < 20) { } // a concurrent run took that number
        }
    });

    public Task<ImmutableArray<UpdateRecord>> HistoryAsync(string stack, CancellationToken ct) => GuardAsync($"cannot read the history of stack {stack}", async () =>
    {
        await using var conn = await OpenAsync(_pool, ct);
        await using var c = Cmd("SELECT version, record::text FROM nfd_history WHERE project = @project AND stack = @stack ORDER BY version DESC", conn, stack: stack);
        await using var r = await c.ExecuteReaderAsync(ct);
        var list = new List<UpdateRecord>();
        while (await r.ReadAsync(ct))
            list.Add((JsonSerializer.Deserialize<UpdateRecord>(r.GetString(1), CheckpointJson.Options)
                ?? throw new DeployException($"{DisplayUrl}: history record {r.GetInt32(0)} of stack {stack} is empty")) with
            { Version = r.GetInt32(0) });
        return list.ToImmutableArray();
    });

    public async ValueTask DisposeAsync()
    {
        foreach (var h in _held.Values) await h.DisposeAsync();
        await _pool.DisposeAsync();
    }
}
