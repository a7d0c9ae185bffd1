using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text.Json;
using Deploy.Core.Transport;

namespace Deploy.Transport.Persist;

/// <summary>
/// Keeps hosts' SSH connections open between runs, in the spirit of OpenSSH's ControlPersist: a background process of
/// the user's (<c>nf-deploy ssh-broker</c>) that runs scripts for nf-deploy processes over connections it holds, and
/// exits after <paramref name="idle"/> without a client. Each client connection is one host: a <c>connect</c>, then
/// any number of <c>run</c>s, concurrently. A held connection is reused only while the host's pins in the client's
/// known_hosts are the ones it was verified against; otherwise a new connection is verified from scratch, so a changed
/// host key is refused as without the broker. It also keeps stacks' derived secrets keys (<see cref="PersistKeys"/>)
/// for the same idle time.
/// </summary>
/// <param name="connectorFor">The direct connector for a known_hosts file (one per file, made on first use).</param>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class PersistBroker(Func<string, IHostConnector> connectorFor, string socketPath, TimeSpan idle)
{
    private readonly ConcurrentDictionary<string, IHostConnector> _connectors = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Held> _held = new(StringComparer.Ordinal);
    private readonly HashSet<Held> _lent = [];
    private readonly PersistKeys _keys = new();
    private readonly Lock _gate = new();
    private int _clients;
    private long _lastActivity = Environment.TickCount64;
    private int _opened;

    /// <summary>Connections opened to hosts since the broker started (a reused one is not counted again).</summary>
    public int Opened => _opened;

    /// <summary>Listens until idle for <c>idle</c> or cancelled; then closes every held connection and removes the socket.
    /// Returns false without serving when another broker already listens on the socket.</summary>
    public async Task<bool> RunAsync(CancellationToken ct)
    {
        using var listener = Bind();
        if (listener is null) return false;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var watch = WatchIdleAsync(stop);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                Socket client;
                try { client = await listener.AcceptAsync(stop.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) { break; }
                if (PersistSocket.PeerUser(client) != PersistSocket.CurrentUser)
                {
                    client.Dispose(); // another user's process: not served, whatever the socket's mode
                    continue;
                }
                _ = ServeAsync(client, stop.Token);
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await watch.ConfigureAwait(false);
            try { File.Delete(socketPath); } catch (IOException) { }
            Held[] all;
            lock (_gate)
            {
                all = [.. _held.Values.Union(_lent)];
                _held.Clear();
                _lent.Clear();
            }
            foreach (var held in all)
                await held.Transport.DisposeAsync().ConfigureAwait(false);
            _keys.Clear();
        }
        return true;
    }

    private Socket? Bind()
    {
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                socket.Bind(new UnixDomainSocketEndPoint(socketPath));
                File.SetUnixFileMode(socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                socket.Listen(128);
                return socket;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse && attempt == 0)
            {
                socket.Dispose();
                if (Answers(socketPath)) return null;
                File.Delete(socketPath); // left by a broker that died
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        return null;
    }

    private static bool Answers(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException) { return false; }
    }

    private async Task WatchIdleAsync(CancellationTokenSource stop)
    {
        var tick = TimeSpan.FromMilliseconds(Math.Clamp(idle.TotalMilliseconds / 4, 50, 5000));
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(tick, stop.Token).ConfigureAwait(false);
                if (Volatile.Read(ref _clients) == 0 && Environment.TickCount64 - Interlocked.Read(ref _lastActivity) >= idle.TotalMilliseconds)
                    await stop.CancelAsync().ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) { }
    }

    private async Task ServeAsync(Socket client, CancellationToken ct)
    {
        Interlocked.Increment(ref _clients);
        var runs = new ConcurrentDictionary<int, CancellationTokenSource>();
        var gate = new SemaphoreSlim(1, 1);
        await using var stream = new NetworkStream(client, ownsSocket: true);
        Held? host = null;
        try
        {
            while (await PersistFrames.ReadAsync<PersistRequest>(stream, ct).ConfigureAwait(false) is { } request)
            {
                Interlocked.Exchange(ref _lastActivity, Environment.TickCount64);
                switch (request.Op)
                {
                    case "connect" when host is null && request.Connection is { } connection && request.KnownHostsFile is { } file:
                        PersistReply reply;
                        try
                        {
                            (host, var reused) = await HoldAsync(connection, file, ct).ConfigureAwait(false);
                            reply = new PersistReply(request.Id, Reused: reused);
                        }
                        catch (Exception e) { reply = PersistReply.From(request.Id, e); }
                        await PersistFrames.WriteAsync(stream, reply, gate, ct).ConfigureAwait(false);
                        if (host is null) return;
                        break;
                    case "run" when host is not null && request.Script is { } script:
                        var run = CancellationTokenSource.CreateLinkedTokenSource(ct);
                        runs[request.Id] = run;
                        _ = RunAsync(host, request.Id, script, stream, gate, run, runs);
                        break;
                    case "cancel" when runs.TryGetValue(request.Cancels, out var cancelled):
                        await cancelled.CancelAsync().ConfigureAwait(false);
                        break;
                    case "cancel":
                        break; // the run already ended
                    case "key-get" when host is null && request.KeyId is { } id:
                        await PersistFrames.WriteAsync(stream, new PersistReply(request.Id, Key: _keys.Get(id)), gate, ct).ConfigureAwait(false);
                        break;
                    case "key-put" when host is null && request.KeyId is { } id && request.Key is { } key:
                        _keys.Put(id, key);
                        await PersistFrames.WriteAsync(stream, new PersistReply(request.Id), gate, ct).ConfigureAwait(false);
                        break;
                    default:
                        return; // not our protocol: hang up
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or JsonException or InvalidDataException or OperationCanceledException) { }
        finally
        {
            foreach (var run in runs.Values) await run.CancelAsync().ConfigureAwait(false);
            if (host is not null) await ReleaseAsync(host).ConfigureAwait(false);
            Interlocked.Exchange(ref _lastActivity, Environment.TickCount64);
            Interlocked.Decrement(ref _clients);
        }
    }

    private async Task RunAsync(Held host, int id, string script, Stream stream, SemaphoreSlim gate,
        CancellationTokenSource run, ConcurrentDictionary<int, CancellationTokenSource> runs)
    {
        PersistReply reply;
        try
        {
            var result = await host.Transport.RunAsync(script, run.Token).ConfigureAwait(false);
            reply = new PersistReply(id, result.ExitCode, result.Stdout, result.Stderr);
        }
        catch (Exception e)
        {
            reply = PersistReply.From(id, e);
            if (e is not OperationCanceledException) Drop(host); // a connection that failed is not lent again
        }
        finally
        {
            runs.TryRemove(id, out _);
            run.Dispose();
        }
        try { await PersistFrames.WriteAsync(stream, reply, gate, CancellationToken.None).ConfigureAwait(false); }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException) { }
    }

    /// <summary>The held connection for this host and these pins, or a new one verified from scratch; lent to the
    /// caller until <see cref="ReleaseAsync"/>.</summary>
    private async Task<(Held Host, bool Reused)> HoldAsync(HostConnection connection, string knownHostsFile, CancellationToken ct)
    {
        var store = new KnownHosts(knownHostsFile);
        var before = await KeyOfAsync(connection, store, ct).ConfigureAwait(false);
        lock (_gate)
            if (_held.TryGetValue(before, out var held))
                return (Lend(held), true);
        var connector = _connectors.GetOrAdd(knownHostsFile, connectorFor);
        var transport = await connector.ConnectAsync(connection, ct).ConfigureAwait(false);
        Interlocked.Increment(ref _opened);
        // the pins as they are now (a first contact has just pinned the key): what the next run will look up
        var after = await KeyOfAsync(connection, store, ct).ConfigureAwait(false);
        var fresh = new Held(after, transport);
        lock (_gate)
            if (!_held.TryAdd(after, fresh))
                fresh.Dropped = true; // another client opened it meanwhile: this one serves this client only
        return (Lend(fresh), false);
    }

    private Held Lend(Held held)
    {
        lock (_gate)
        {
            held.Users++;
            _lent.Add(held);
        }
        return held;
    }

    /// <summary>A client is done with the connection: closed if it was dropped meanwhile, else kept for the next one.</summary>
    private async Task ReleaseAsync(Held held)
    {
        lock (_gate)
        {
            if (--held.Users > 0) return;
            _lent.Remove(held);
            if (!held.Dropped) return;
        }
        await held.Transport.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>A connection that failed is not lent again; it is closed when its last client is done with it.</summary>
    private void Drop(Held held)
    {
        lock (_gate)
        {
            held.Dropped = true;
            if (_held.TryGetValue(held.Key, out var current) && ReferenceEquals(current, held)) _held.Remove(held.Key);
        }
    }

    private static async Task<string> KeyOfAsync(HostConnection connection, KnownHosts store, CancellationToken ct)
    {
        async Task<string> PinsAsync(SshEndpoint? endpoint) => endpoint is null ? ""
            : string.Join(",", (await store.LookupAsync(endpoint.Address, endpoint.Port, ct).ConfigureAwait(false)).Select(p => p.ToString()));
        var pins = await PinsAsync(connection.Endpoint).ConfigureAwait(false) + "|" + await PinsAsync(connection.Jump).ConfigureAwait(false);
        return JsonSerializer.Serialize(connection) + "|" + store.Path + "|" + pins;
    }

    private sealed class Held(string key, IHostTransport transport)
    {
        public string Key { get; } = key;

        public IHostTransport Transport { get; } = transport;

        /// <summary>Clients it is lent to (under the broker's lock).</summary>
        public int Users { get; set; }

        /// <summary>Failed, or opened twice by a race: closed once no client uses it.</summary>
        public bool Dropped { get; set; }
    }
}
