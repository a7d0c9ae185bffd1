using System.Net.Sockets;
using Deploy.Core.Model;

namespace Deploy.Transport.Persist;

/// <summary>Opens a connection to the user's SSH broker, starting the broker when asked to and none answers. Refuses a
/// socket served by another user's process.</summary>
/// <param name="socketPath">The broker's socket (<see cref="PersistSocket.Locate"/>).</param>
/// <param name="startBroker">Starts a broker in the background (it listens on <paramref name="socketPath"/>).</param>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class PersistDial(string socketPath, Func<CancellationToken, Task> startBroker)
{
    private readonly SemaphoreSlim _starting = new(1, 1);

    /// <summary>A connection to the broker, started first when none answers.</summary>
    public async Task<Socket> OpenAsync(CancellationToken ct)
    {
        if (await TryOpenAsync(socketPath, ct).ConfigureAwait(false) is { } open) return open;
        await _starting.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (await TryOpenAsync(socketPath, ct).ConfigureAwait(false) is { } raced) return raced;
            await startBroker(ct).ConfigureAwait(false);
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (DateTime.UtcNow < deadline)
            {
                await Task.Delay(20, ct).ConfigureAwait(false);
                if (await TryOpenAsync(socketPath, ct).ConfigureAwait(false) is { } started) return started;
            }
            throw new DeployException($"the SSH broker did not start listening on {socketPath} (unset NF_DEPLOY_SSH_PERSIST to connect directly)");
        }
        finally { _starting.Release(); }
    }

    /// <summary>A connection to the broker if one listens, else null (none is started).</summary>
    public static async Task<Socket?> TryOpenAsync(string socketPath, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            socket.Dispose();
            return null;
        }
        if (PersistSocket.PeerUser(socket) == PersistSocket.CurrentUser) return socket;
        socket.Dispose();
        throw new DeployException($"{socketPath} is served by another user's process: not sending it any script");
    }
}
