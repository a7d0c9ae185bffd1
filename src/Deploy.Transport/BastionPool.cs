using Deploy.Core.Model;
using Deploy.Core.Transport;
using Renci.SshNet;

namespace Deploy.Transport;

/// <summary>An open connection to a bastion and the keys it authenticated with (closed together).</summary>
internal sealed record BastionConnection(SshClient Client, IDisposable Keys);

/// <summary>Why a tunnel through a bastion failed, as SSH.NET reports it on the forwarded port (not to the caller).</summary>
internal sealed class TunnelErrors
{
    public volatile Exception? Last;
}

/// <summary>
/// One shared SSH connection per bastion (jump host): every host behind it gets its own forwarded channel through
/// that one connection, opened once, so sixteen hosts make one login on the bastion, not sixteen (sshd's MaxStartups).
/// A bastion that cannot be reached fails every host behind it with the same <see cref="BastionUnreachableException"/>
/// without trying again for each (the failure stands for the connector's life, that is one run). The connection is
/// closed when the last host using it closes; one that dropped is opened again by the next host that needs it.
/// </summary>
internal sealed class BastionPool(Func<SshEndpoint, CancellationToken, Task<BastionConnection>> open)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<SshEndpoint, Shared> _shared = [];

    /// <summary>How many connections to bastions were opened (tests).</summary>
    public int Opened => Volatile.Read(ref _opened);

    private int _opened;

    public static string NameOf(SshEndpoint jump) => jump.Name ?? SshHostConnector.Describe(jump);

    /// <summary>Opens a local port forwarded to <paramref name="target"/> through the bastion's shared connection.</summary>
    public async Task<BastionTunnel> TunnelAsync(string host, SshEndpoint jump, SshEndpoint target, CancellationToken ct)
    {
        Shared shared;
        lock (_gate)
        {
            if (!_shared.TryGetValue(jump, out shared!) || shared.Broken)
            {
                Interlocked.Increment(ref _opened);
                _shared[jump] = shared = new Shared(Task.Run(() => open(jump, CancellationToken.None), CancellationToken.None));
            }
            shared.Users++;
        }
        BastionConnection connection;
        try
        {
            connection = await shared.Connection.WaitAsync(ct).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Release(jump, shared);
            if (e is DeployException and not HostKeyMismatchException && !ct.IsCancellationRequested)
                throw new BastionUnreachableException(host, NameOf(jump), e is HostUnreachableException u ? u.Reason : e.Message, e);
            throw;
        }
        var tunnel = new ForwardedPortLocal("127.0.0.1", 0, target.Address, (uint)target.Port);
        var errors = new TunnelErrors();
        tunnel.Exception += (_, args) => errors.Last = args.Exception;
        try
        {
            lock (shared)
                connection.Client.AddForwardedPort(tunnel);
            tunnel.Start();
        }
        catch
        {
            Close(shared, connection, tunnel);
            Release(jump, shared);
            throw;
        }
        return new BastionTunnel((int)tunnel.BoundPort, errors, () =>
        {
            Close(shared, connection, tunnel);
            Release(jump, shared);
        });
    }

    private static void Close(Shared shared, BastionConnection connection, ForwardedPortLocal tunnel)
    {
        SshHostTransport.Quietly(tunnel.Stop);
        lock (shared)
            SshHostTransport.Quietly(() => connection.Client.RemoveForwardedPort(tunnel));
        SshHostTransport.Quietly(tunnel.Dispose);
    }

    /// <summary>The last user closes the connection; a failure to open stays, so hosts that come later fail at once.</summary>
    private void Release(SshEndpoint jump, Shared shared)
    {
        lock (_gate)
        {
            if (--shared.Users > 0 || shared.Connection.IsFaulted || shared.Connection.IsCanceled)
                return;
            if (_shared.TryGetValue(jump, out var current) && ReferenceEquals(current, shared))
                _shared.Remove(jump);
        }
        _ = shared.Connection.ContinueWith(task =>
        {
            if (!task.IsCompletedSuccessfully) return;
            SshHostTransport.DisposeQuietly(task.Result.Client, [task.Result.Keys]);
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private sealed class Shared(Task<BastionConnection> connection)
    {
        public Task<BastionConnection> Connection { get; } = connection;
        public int Users { get; set; }

        /// <summary>Opened, then dropped: the next host opens it again.</summary>
        public bool Broken => Connection.IsCompletedSuccessfully && !Connection.Result.Client.IsConnected;
    }
}

/// <summary>A host's forwarded port through a shared bastion connection; disposing closes it and releases the bastion.</summary>
internal sealed class BastionTunnel(int port, TunnelErrors errors, Action close) : IDisposable
{
    private int _closed;

    public int Port { get; } = port;
    public TunnelErrors Errors { get; } = errors;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0) close();
    }
}
