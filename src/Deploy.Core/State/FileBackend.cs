using System.Collections.Immutable;
using System.Text.Json;
using Deploy.Core.Model;

namespace Deploy.Core.State;

/// <summary>
/// The default backend: checkpoints and locks in the project's <c>.pulumi/</c> (<see cref="FileStateStore"/>), and the
/// run history as Pulumi's file backend keeps it: <c>.pulumi/history/nf-deploy/&lt;stack&gt;/&lt;stack&gt;-&lt;time&gt;.history.json</c>.
/// </summary>
public sealed class FileBackend(string root, string? url = null) : IStateBackend
{
    public FileStateStore Files { get; } = new(root);

    public string DisplayUrl => url ?? "file://" + root;

    public string HistoryDir(string stack) => Path.Combine(root, ".pulumi", "history", "nf-deploy", stack);

    public Task<StackState> LoadAsync(string stack, CancellationToken ct) => Files.LoadAsync(stack, ct);

    public Task SaveAsync(StackState state, CancellationToken ct) => Files.SaveAsync(state, ct);

    /// <summary>A stack never deployed has no folder to delete from: that is not an error (destroy of an empty stack).</summary>
    public Task DeleteAsync(string stack, CancellationToken ct) =>
        Directory.Exists(Path.GetDirectoryName(Files.StatePath(stack))) ? Files.DeleteAsync(stack, ct) : Task.CompletedTask;

    public Task<IAsyncDisposable> LockAsync(string stack, string operation, CancellationToken ct) => Files.LockAsync(stack, operation, ct);

    public Task<DateTimeOffset?> LastUpdateAsync(string stack, CancellationToken ct)
    {
        var path = Files.StatePath(stack);
        return Task.FromResult<DateTimeOffset?>(File.Exists(path) ? new DateTimeOffset(File.GetLastWriteTimeUtc(path), TimeSpan.Zero) : null);
    }

    /// <summary>The file lock's own rules (FileStateStore.BreakLock); <paramref name="force"/> goes to it once it takes one.</summary>
    public Task<string> BreakLockAsync(string stack, bool force, CancellationToken ct) =>
        Task.FromResult(Files.BreakLock(stack, force) ? $"the lock of stack {stack} was removed" : $"stack {stack} was not locked");

    public async Task<UpdateRecord> AppendHistoryAsync(string stack, UpdateRecord record, CancellationToken ct)
    {
        var dir = HistoryDir(stack);
        Directory.CreateDirectory(dir);
        while (true)
        {
            var version = (await HistoryAsync(stack, ct)).Select(r => r.Version).DefaultIfEmpty(0).Max() + 1;
            var saved = record with { Version = version };
            var path = Path.Combine(dir, $"{stack}-{version:D6}-{record.StartTime.ToUnixTimeMilliseconds()}.history.json");
            try
            {
                await using var f = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
                await JsonSerializer.SerializeAsync(f, saved, CheckpointJson.Options, ct);
                return saved;
            }
            catch (IOException) when (File.Exists(path)) { } // another run took that number: take the next
        }
    }

    public async Task<ImmutableArray<UpdateRecord>> HistoryAsync(string stack, CancellationToken ct)
    {
        var dir = HistoryDir(stack);
        if (!Directory.Exists(dir)) return [];
        var records = new List<UpdateRecord>();
        foreach (var path in Directory.EnumerateFiles(dir, "*.history.json"))
        {
            try
            {
                await using var f = File.OpenRead(path);
                records.Add(await JsonSerializer.DeserializeAsync<UpdateRecord>(f, CheckpointJson.Options, ct)
                    ?? throw new JsonException("empty"));
            }
            catch (JsonException e)
            {
                throw new DeployException($"{Path.GetRelativePath(root, path)}: not a history record ({e.Message.Split(" Path:")[0]})", e);
            }
        }
        return [.. records.OrderByDescending(r => r.Version)];
    }
}
