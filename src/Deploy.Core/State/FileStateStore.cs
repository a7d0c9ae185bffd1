using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Serialization;
using Deploy.Core.Model;

namespace Deploy.Core.State;

/// <summary>
/// Pulumi's file-backend layout: <c>.pulumi/stacks/nf-deploy/&lt;stack&gt;.json</c> (a checkpoint, version 3) and
/// <c>.pulumi/locks/nf-deploy/&lt;stack&gt;.json</c>. Writes go to a temp file of their own (0600: the state holds
/// hashes of secrets), are flushed, then renamed over the old one, one writer at a time (<see cref="FileMutex"/>).
/// A run's lock is respected whoever holds it: one from another controller is never called stale.
/// </summary>
public sealed class FileStateStore(string projectDir) : IStateStore
{
    public string ProjectDir => projectDir;

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string StatePath(string stack) => Path.Combine(projectDir, ".pulumi", "stacks", "nf-deploy", StackName.Check(stack) + ".json");

    public string LockPath(string stack) => Path.Combine(projectDir, ".pulumi", "locks", "nf-deploy", StackName.Check(stack) + ".json");

    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public async Task<StackState> LoadAsync(string stack, CancellationToken ct)
    {
        var path = StatePath(stack);
        if (!File.Exists(path)) return StackState.Empty(stack);
        var shown = Path.GetRelativePath(projectDir, path);
        DeployException Invalid(string where, Exception? inner = null) =>
            new($"{shown}: the state file is not a valid checkpoint ({where}); restore it from {shown}.bak", inner);
        CheckpointFile? doc;
        try
        {
            await using var f = File.OpenRead(path);
            doc = await JsonSerializer.DeserializeAsync<CheckpointFile>(f, Json, ct);
        }
        catch (JsonException e)
        {
            throw Invalid($"line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}", e);
        }
        // a checkpoint that parses but lacks its parts ({}, {"checkpoint": null}, ...) is as invalid as a broken one
        var latest = doc?.Checkpoint?.Latest ?? throw Invalid("no checkpoint.latest");
        if (latest.Manifest is null || latest.Resources is null || latest.Hosts is null || latest.PendingRestarts is null)
            throw Invalid("checkpoint.latest lacks manifest, resources, hosts or pendingRestarts");
        try
        {
            return new StackState(
                stack,
                latest.Manifest.Time,
                [.. latest.Resources.Select(r => new ResourceRecord(r.Urn, r.Type, r.Host, r.Name,
                    r.Identity.ToImmutableSortedDictionary(StringComparer.Ordinal), r.Outputs.ToImmutableSortedDictionary(StringComparer.Ordinal))
                { Adopted = r.Adopted?.ToImmutableSortedDictionary(StringComparer.Ordinal) })],
                latest.Hosts.ToImmutableSortedDictionary(h => h.Key, h => h.Value, StringComparer.Ordinal),
                [.. latest.PendingRestarts.Select(PendingRestart.Parse)]);
        }
        catch (Exception e) when (e is NullReferenceException or ArgumentNullException or FormatException)
        {
            throw Invalid(e is FormatException ? e.Message : "a resource or host entry lacks a field", e);
        }
    }

    public async Task SaveAsync(StackState state, CancellationToken ct)
    {
        var path = StatePath(state.Stack);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var doc = new CheckpointFile(3, new CheckpointBody(state.Stack, new Deployment(
            new Manifest(state.Updated, "nf-deploy"),
            [.. state.Resources.Select(r => new ResourceJson(r.Urn, true, r.Type, r.Host, r.Name,
                new Dictionary<string, string>(r.Identity), new Dictionary<string, string>(r.Outputs),
                r.Adopted is null ? null : new Dictionary<string, string>(r.Adopted)))],
            new Dictionary<string, HostRecord>(state.Hosts),
            [.. state.PendingRestarts.Select(p => p.ToString())])));
        using var writer = FileMutex.Acquire(projectDir, $"state-{state.Stack}", ct);
        var tmp = $"{path}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None, Options = FileOptions.WriteThrough };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = Private;
            await using (var f = new FileStream(tmp, options))
            {
                await JsonSerializer.SerializeAsync(f, doc, Json, ct);
                await f.FlushAsync(ct);
                f.Flush(flushToDisk: true);
            }
            if (File.Exists(path))
            {
                File.Copy(path, path + ".bak", overwrite: true);
                if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path + ".bak", Private);
            }
            File.Move(tmp, path, overwrite: true);
        }
        finally { File.Delete(tmp); }
    }

    public Task DeleteAsync(string stack, CancellationToken ct)
    {
        var path = StatePath(stack);
        using var writer = FileMutex.Acquire(projectDir, $"state-{stack}", ct);
        File.Delete(path);
        File.Delete(path + ".bak");
        return Task.CompletedTask;
    }

    public async Task<IAsyncDisposable> LockAsync(string stack, string operation, CancellationToken ct)
    {
        var path = LockPath(stack);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var info = new LockInfo(Environment.ProcessId, Environment.MachineName, operation, DateTimeOffset.UtcNow, Guid.NewGuid().ToString("N"));
        using (FileMutex.Acquire(projectDir, $"lock-{stack}", ct))
        {
            if (File.Exists(path))
            {
                var holder = await ReadLockAsync(path, ct);
                throw new DeployException($"stack {stack} is locked by {Describe(holder)}" + Holder(holder) switch
                {
                    LockHolder.Alive => "; wait for it to finish.",
                    LockHolder.Gone => $"; that process is gone: break the stale lock with `./deploy cancel --stack {stack}`.",
                    LockHolder.OtherController => $"; it runs on another controller: wait for it to finish (if that run is gone, break the lock with `./deploy cancel --stack {stack} --force`).",
                    _ => $"; if no run is under way, break it with `./deploy cancel --stack {stack} --force`.",
                });
            }
            await using var f = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
            await JsonSerializer.SerializeAsync(f, info, Json, ct);
        }
        return new Releaser(this, stack, info.Token!);
    }

    /// <summary>`deploy cancel`: removes a lock whose process is gone. A lock that may still be held (a live process on this
    /// controller, one from another controller, an unreadable one) is removed only with <paramref name="force"/>.
    /// Returns false when there was none.</summary>
    public bool BreakLock(string stack, bool force = false)
    {
        var path = LockPath(stack);
        using var _ = FileMutex.Acquire(projectDir, $"lock-{stack}");
        if (!File.Exists(path)) return false;
        var holder = ReadLockAsync(path, CancellationToken.None).GetAwaiter().GetResult();
        if (Holder(holder) is not LockHolder.Gone && !force)
            throw new DeployException($"stack {stack} is locked by {Describe(holder)}" + (Holder(holder) switch
            {
                LockHolder.Alive => ", which is still running",
                LockHolder.OtherController => ", on another controller: nf-deploy cannot tell whether it still runs",
                _ => ": nf-deploy cannot tell who holds it",
            }) + $"; to break it anyway: `./deploy cancel --stack {stack} --force`");
        File.Delete(path);
        return true;
    }

    private enum LockHolder { Alive, Gone, OtherController, Unknown }

    private static LockHolder Holder(LockInfo? holder) =>
        holder is null ? LockHolder.Unknown
        : holder.Host != Environment.MachineName ? LockHolder.OtherController
        : ProcessAlive(holder.Pid) ? LockHolder.Alive : LockHolder.Gone;

    private static string Describe(LockInfo? holder) =>
        holder is null ? "an unreadable lock" : $"'{holder.Operation}' (pid {holder.Pid} on {holder.Host}, since {holder.Since:u})";

    private static async Task<LockInfo?> ReadLockAsync(string path, CancellationToken ct)
    {
        try
        {
            await using var f = File.OpenRead(path);
            return await JsonSerializer.DeserializeAsync<LockInfo>(f, Json, ct) is { Host: not null, Operation: not null } info ? info : null;
        }
        catch (Exception e) when (e is IOException or JsonException) { return null; }
    }

    private static bool ProcessAlive(int pid)
    {
        try { using var p = System.Diagnostics.Process.GetProcessById(pid); return !p.HasExited; }
        catch (ArgumentException) { return false; }
    }

    /// <summary>Releases the run's own lock: one that was broken and taken by another run stays.</summary>
    private sealed class Releaser(FileStateStore store, string stack, string token) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            var path = store.LockPath(stack);
            using var _ = FileMutex.Acquire(store.ProjectDir, $"lock-{stack}");
            if ((await ReadLockAsync(path, CancellationToken.None))?.Token == token) File.Delete(path);
        }
    }

    /// <param name="Token">Which run took the lock: a run releases only a lock that still carries its own token.</param>
    private sealed record LockInfo(int Pid, string Host, string Operation, DateTimeOffset Since, string? Token = null);

    private sealed record CheckpointFile(int Version, CheckpointBody Checkpoint);

    private sealed record CheckpointBody(string Stack, Deployment Latest);

    private sealed record Deployment(Manifest Manifest, List<ResourceJson> Resources, Dictionary<string, HostRecord> Hosts, List<string> PendingRestarts);

    private sealed record Manifest(DateTimeOffset Time, string Version);

    private sealed record ResourceJson(string Urn, bool Custom, string Type, string Host, string Name,
        Dictionary<string, string> Identity, Dictionary<string, string> Outputs, Dictionary<string, string>? Adopted = null);
}
