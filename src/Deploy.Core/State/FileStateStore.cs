using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Serialization;
using Deploy.Core.Model;

namespace Deploy.Core.State;

/// <summary>
/// Pulumi's file-backend layout: <c>.pulumi/stacks/nf-deploy/&lt;stack&gt;.json</c> (a checkpoint, version 3) and
/// <c>.pulumi/locks/nf-deploy/&lt;stack&gt;.json</c>. Writes go to a temp file, are flushed, then renamed over the old one.
/// </summary>
public sealed class FileStateStore(string projectDir) : IStateStore
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string StatePath(string stack) => Path.Combine(projectDir, ".pulumi", "stacks", "nf-deploy", stack + ".json");

    public string LockPath(string stack) => Path.Combine(projectDir, ".pulumi", "locks", "nf-deploy", stack + ".json");

    public async Task<StackState> LoadAsync(string stack, CancellationToken ct)
    {
        var path = StatePath(stack);
        if (!File.Exists(path)) return StackState.Empty(stack);
        try
        {
            await using var f = File.OpenRead(path);
            var doc = await JsonSerializer.DeserializeAsync<CheckpointFile>(f, Json, ct)
                ?? throw new DeployException($"{path}: empty state file");
            var latest = doc.Checkpoint.Latest;
            return new StackState(
                stack,
                latest.Manifest.Time,
                [.. latest.Resources.Select(r => new ResourceRecord(r.Urn, r.Type, r.Host, r.Name,
                    r.Identity.ToImmutableSortedDictionary(StringComparer.Ordinal), r.Outputs.ToImmutableSortedDictionary(StringComparer.Ordinal)))],
                latest.Hosts.ToImmutableSortedDictionary(h => h.Key, h => h.Value, StringComparer.Ordinal),
                [.. latest.PendingRestarts]);
        }
        catch (JsonException e)
        {
            var shown = Path.GetRelativePath(projectDir, path);
            throw new DeployException($"{shown}: the state file is not a valid checkpoint (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}); " +
                $"restore it from {shown}.bak", e);
        }
    }

    public async Task SaveAsync(StackState state, CancellationToken ct)
    {
        var path = StatePath(state.Stack);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var doc = new CheckpointFile(3, new CheckpointBody(state.Stack, new Deployment(
            new Manifest(state.Updated, "nf-deploy"),
            [.. state.Resources.Select(r => new ResourceJson(r.Urn, true, r.Type, r.Host, r.Name,
                new Dictionary<string, string>(r.Identity), new Dictionary<string, string>(r.Outputs)))],
            new Dictionary<string, HostRecord>(state.Hosts),
            [.. state.PendingRestarts])));
        var tmp = path + ".tmp-" + Environment.ProcessId;
        await using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.WriteThrough))
        {
            await JsonSerializer.SerializeAsync(f, doc, Json, ct);
            await f.FlushAsync(ct);
            f.Flush(flushToDisk: true);
        }
        if (File.Exists(path)) File.Copy(path, path + ".bak", overwrite: true);
        File.Move(tmp, path, overwrite: true);
    }

    public Task DeleteAsync(string stack, CancellationToken ct)
    {
        var path = StatePath(stack);
        File.Delete(path);
        File.Delete(path + ".bak");
        return Task.CompletedTask;
    }

    public async Task<IAsyncDisposable> LockAsync(string stack, string operation, CancellationToken ct)
    {
        var path = LockPath(stack);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var info = new LockInfo(Environment.ProcessId, Environment.MachineName, operation, DateTimeOffset.UtcNow);
        try
        {
            await using var f = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
            await JsonSerializer.SerializeAsync(f, info, Json, ct);
        }
        catch (IOException) when (File.Exists(path))
        {
            var holder = await ReadLockAsync(path, ct);
            var alive = holder is not null && holder.Host == Environment.MachineName && ProcessAlive(holder.Pid);
            throw new DeployException(
                $"stack {stack} is locked by " +
                (holder is null ? "an unreadable lock" : $"'{holder.Operation}' (pid {holder.Pid} on {holder.Host}, since {holder.Since:u})") +
                (alive ? "; wait for it to finish." : $"; that process is gone: break the stale lock with `./deploy cancel --stack {stack}`."));
        }
        return new Releaser(path);
    }

    /// <summary>Removes the lock whoever holds it (`deploy cancel`). Returns false when there was none.</summary>
    public bool BreakLock(string stack)
    {
        var path = LockPath(stack);
        if (!File.Exists(path)) return false;
        File.Delete(path);
        return true;
    }

    private static async Task<LockInfo?> ReadLockAsync(string path, CancellationToken ct)
    {
        try
        {
            await using var f = File.OpenRead(path);
            return await JsonSerializer.DeserializeAsync<LockInfo>(f, Json, ct);
        }
        catch (Exception e) when (e is IOException or JsonException) { return null; }
    }

    private static bool ProcessAlive(int pid)
    {
        try { using var p = System.Diagnostics.Process.GetProcessById(pid); return !p.HasExited; }
        catch (ArgumentException) { return false; }
    }

    private sealed class Releaser(string path) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            File.Delete(path);
            return ValueTask.CompletedTask;
        }
    }

    private sealed record LockInfo(int Pid, string Host, string Operation, DateTimeOffset Since);

    private sealed record CheckpointFile(int Version, CheckpointBody Checkpoint);

    private sealed record CheckpointBody(string Stack, Deployment Latest);

    private sealed record Deployment(Manifest Manifest, List<ResourceJson> Resources, Dictionary<string, HostRecord> Hosts, List<string> PendingRestarts);

    private sealed record Manifest(DateTimeOffset Time, string Version);

    private sealed record ResourceJson(string Urn, bool Custom, string Type, string Host, string Name,
        Dictionary<string, string> Identity, Dictionary<string, string> Outputs);
}
