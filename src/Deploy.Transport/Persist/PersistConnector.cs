using System.Collections.Concurrent;
using System.Net.Sockets;
using Deploy.Core.Model;
using Deploy.Core.Transport;

namespace Deploy.Transport.Persist;

/// <summary>
/// Connects through the user's SSH broker (<see cref="PersistBroker"/>), starting it when none answers: the host's
/// connection outlives this process, so the next run within the idle time skips the TCP and SSH handshakes. The
/// transports it returns behave as the direct ones: the same results, the same exceptions.
/// </summary>
/// <param name="socketPath">The broker's socket (<see cref="PersistSocket.Locate"/>).</param>
/// <param name="knownHostsFile">The known_hosts file the broker verifies host keys against.</param>
/// <param name="startBroker">Starts a broker in the background (it listens on <paramref name="socketPath"/>).</param>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class PersistConnector(string socketPath, string knownHostsFile, Func<CancellationToken, Task> startBroker) : IHostConnector
{
    private readonly PersistDial _dial = new(socketPath, startBroker);

    /// <summary>Hosts whose connection the broker already held (for -v).</summary>
    public int Reused => _reused;

    private int _reused;

    public async Task<IHostTransport> ConnectAsync(HostConnection connection, CancellationToken ct)
    {
        var socket = await _dial.OpenAsync(ct).ConfigureAwait(false);
        var stream = new NetworkStream(socket, ownsSocket: true);
        try
        {
            var gate = new SemaphoreSlim(1, 1);
            await PersistFrames.WriteAsync(stream, new PersistRequest(1, "connect", connection, knownHostsFile), gate, ct).ConfigureAwait(false);
            var reply = await PersistFrames.ReadAsync<PersistReply>(stream, ct).ConfigureAwait(false)
                ?? throw new HostUnreachableException(connection.HostName, "the SSH broker hung up");
            if (reply.Error is not null) throw reply.ToException(connection.HostName);
            if (reply.Reused) Interlocked.Increment(ref _reused);
            return new PersistTransport(connection.HostName, stream, gate);
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>One host's connection, lent by the broker: scripts go out as requests, results come back by id.</summary>
    private sealed class PersistTransport : IHostTransport
    {
        private readonly NetworkStream _stream;
        private readonly SemaphoreSlim _gate;
        private readonly ConcurrentDictionary<int, TaskCompletionSource<PersistReply>> _pending = new();
        private readonly CancellationTokenSource _closing = new();
        private readonly Task _reader;
        private int _nextId = 1;

        public PersistTransport(string hostName, NetworkStream stream, SemaphoreSlim gate)
        {
            HostName = hostName;
            _stream = stream;
            _gate = gate;
            _reader = ReadRepliesAsync();
        }

        public string HostName { get; }

        public async Task<ExecResult> RunAsync(string script, CancellationToken ct)
        {
            var id = Interlocked.Increment(ref _nextId);
            var answer = new TaskCompletionSource<PersistReply>(TaskCreationOptions.RunContinuationsAsynchronously);
            _pending[id] = answer;
            try
            {
                await PersistFrames.WriteAsync(_stream, new PersistRequest(id, "run", Script: script), _gate, ct).ConfigureAwait(false);
                PersistReply reply;
                await using (ct.Register(() => _ = CancelAsync(id)))
                    reply = await answer.Task.WaitAsync(ct).ConfigureAwait(false);
                return reply.Error is null ? new ExecResult(reply.Exit, reply.Stdout ?? "", reply.Stderr ?? "") : throw reply.ToException(HostName);
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
                throw new HostUnreachableException(HostName, $"the SSH broker's connection broke: {e.Message}", e);
            }
            finally { _pending.TryRemove(id, out _); }
        }

        private async Task CancelAsync(int id)
        {
            try { await PersistFrames.WriteAsync(_stream, new PersistRequest(0, "cancel", Cancels: id), _gate, _closing.Token).ConfigureAwait(false); }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException) { }
        }

        private async Task ReadRepliesAsync()
        {
            Exception ended = new IOException("the SSH broker hung up");
            try
            {
                while (await PersistFrames.ReadAsync<PersistReply>(_stream, _closing.Token).ConfigureAwait(false) is { } reply)
                    if (_pending.TryGetValue(reply.Id, out var waiting)) waiting.TrySetResult(reply);
            }
            catch (Exception e) { ended = e is OperationCanceledException ? new IOException("closed") : e; }
            foreach (var waiting in _pending.Values) waiting.TrySetException(ended is IOException io ? io : new IOException(ended.Message, ended));
        }

        public async ValueTask DisposeAsync()
        {
            await _closing.CancelAsync().ConfigureAwait(false);
            await _stream.DisposeAsync().ConfigureAwait(false);
            try { await _reader.ConfigureAwait(false); } catch (Exception e) when (e is IOException or ObjectDisposedException) { }
            _closing.Dispose();
        }
    }
}
