using System.Net.Sockets;
using Deploy.Core.Secrets;

namespace Deploy.Transport.Persist;

/// <summary>
/// Stacks' derived secrets keys kept by the user's SSH broker between runs (<see cref="PersistKeys"/>). Neither a lookup
/// nor keeping a key starts a broker: with none running a lookup is a miss, and a key is handed over in the background
/// once the broker this run's connects start answers (within <see cref="Patience"/>), never delaying the run.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class PersistKeyCache(string socketPath) : IDerivedKeyCache
{
    /// <summary>How long a key waits in the background for a broker to answer.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    /// <summary>The background hand-over of the last <see cref="PutAsync"/> (for specs).</summary>
    public Task Kept { get; private set; } = Task.CompletedTask;

    public async Task<byte[]?> GetAsync(string id, CancellationToken ct)
    {
        if (await PersistDial.TryOpenAsync(socketPath, ct).ConfigureAwait(false) is not { } socket) return null;
        var reply = await AskAsync(socket, new PersistRequest(1, "key-get", KeyId: id), ct).ConfigureAwait(false);
        return reply?.Key is { } key ? Convert.FromBase64String(key) : null;
    }

    public Task PutAsync(string id, byte[] key, CancellationToken ct)
    {
        Kept = Task.Run(() => KeepAsync(new PersistRequest(1, "key-put", KeyId: id, Key: Convert.ToBase64String(key))), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task KeepAsync(PersistRequest put)
    {
        using var patience = new CancellationTokenSource(Patience);
        try
        {
            while (true)
            {
                if (await PersistDial.TryOpenAsync(socketPath, patience.Token).ConfigureAwait(false) is { } socket)
                {
                    await AskAsync(socket, put, patience.Token).ConfigureAwait(false);
                    return;
                }
                await Task.Delay(TimeSpan.FromMilliseconds(100), patience.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or Core.Model.DeployException or System.Text.Json.JsonException)
        {
            // no broker came, or it went: the next run derives the key again
        }
    }

    private static async Task<PersistReply?> AskAsync(Socket socket, PersistRequest request, CancellationToken ct)
    {
        await using var stream = new NetworkStream(socket, ownsSocket: true);
        await PersistFrames.WriteAsync(stream, request, new SemaphoreSlim(1, 1), ct).ConfigureAwait(false);
        return await PersistFrames.ReadAsync<PersistReply>(stream, ct).ConfigureAwait(false);
    }
}
