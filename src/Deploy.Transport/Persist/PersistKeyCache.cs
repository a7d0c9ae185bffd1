using System.Net.Sockets;
using Deploy.Core.Secrets;

namespace Deploy.Transport.Persist;

/// <summary>
/// Stacks' derived secrets keys kept by the user's SSH broker between runs (<see cref="PersistKeys"/>). A lookup never
/// starts a broker (none running: a miss); keeping a key does, as the run's connects would a moment later.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class PersistKeyCache(string socketPath, Func<CancellationToken, Task> startBroker) : IDerivedKeyCache
{
    private readonly PersistDial _dial = new(socketPath, startBroker);

    public async Task<byte[]?> GetAsync(string id, CancellationToken ct)
    {
        if (await _dial.TryOpenAsync(ct).ConfigureAwait(false) is not { } socket) return null;
        var reply = await AskAsync(socket, new PersistRequest(1, "key-get", KeyId: id), ct).ConfigureAwait(false);
        return reply?.Key is { } key ? Convert.FromBase64String(key) : null;
    }

    public async Task PutAsync(string id, byte[] key, CancellationToken ct)
    {
        var socket = await _dial.OpenAsync(ct).ConfigureAwait(false);
        await AskAsync(socket, new PersistRequest(1, "key-put", KeyId: id, Key: Convert.ToBase64String(key)), ct).ConfigureAwait(false);
    }

    private static async Task<PersistReply?> AskAsync(Socket socket, PersistRequest request, CancellationToken ct)
    {
        await using var stream = new NetworkStream(socket, ownsSocket: true);
        await PersistFrames.WriteAsync(stream, request, new SemaphoreSlim(1, 1), ct).ConfigureAwait(false);
        return await PersistFrames.ReadAsync<PersistReply>(stream, ct).ConfigureAwait(false);
    }
}
