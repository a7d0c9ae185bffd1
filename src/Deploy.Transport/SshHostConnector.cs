using System.Net.Sockets;
using System.Security.Cryptography;
using Deploy.Core.Model;
using Deploy.Core.Transport;
using Polly;
using Polly.Retry;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace Deploy.Transport;

/// <summary>
/// Opens SSH connections (SSH.NET) with key authentication, host keys pinned in a known_hosts file
/// (trust on first use, refuse a changed key), optional jump host, and bounded retries of transient failures.
/// Thread-safe: many hosts may be connected in parallel through one instance.
/// </summary>
public sealed partial class SshHostConnector : IHostConnector
{
    private readonly SshConnectOptions _options;
    private readonly BastionPool _bastions;

    /// <param name="knownHostsFile">The known_hosts file that pins host keys, e.g. <c>&lt;project&gt;/.nf-deploy/known_hosts</c>.</param>
    /// <param name="options">Timeouts, retries, concurrency; defaults when null.</param>
    public SshHostConnector(string knownHostsFile, SshConnectOptions? options = null)
        : this(new KnownHosts(knownHostsFile), options)
    {
    }

    /// <param name="knownHosts">The pinned host keys; share one instance per file in a process.</param>
    /// <param name="options">Timeouts, retries, concurrency; defaults when null.</param>
    public SshHostConnector(KnownHosts knownHosts, SshConnectOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(knownHosts);
        _options = options ?? new SshConnectOptions();
        _options.Validate();
        KnownHosts = knownHosts;
        _bastions = new BastionPool(OpenBastionAsync);
    }

    public KnownHosts KnownHosts { get; }

    public SshConnectOptions Options => _options;

    /// <summary>Connects (with retries); the connection is opened again if it drops while a script runs.</summary>
    public async Task<IHostTransport> ConnectAsync(HostConnection connection, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var first = await ConnectOnceAsync(connection, ct).ConfigureAwait(false);
        return new ResumingTransport(first, token => ConnectOnceAsync(connection, token), _options);
    }

    private async Task<SshHostTransport> ConnectOnceAsync(HostConnection connection, CancellationToken ct)
    {
        var host = connection.HostName;
        var target = connection.Endpoint;
        var owned = new List<IDisposable>();
        try
        {
            var keys = await SshKeys.LoadAsync(host, target, _options, ct).ConfigureAwait(false);
            SshClient client;
            if (connection.Jump is { } jump)
            {
                owned.Add(keys);
                var tunnel = await _bastions.TunnelAsync(host, jump, target, ct).ConfigureAwait(false);
                owned.Insert(0, tunnel);
                client = await ConnectClientAsync(host, target, $"{Describe(target)} via jump host {Describe(jump)}", "127.0.0.1", tunnel.Port,
                    keys, tunnel.Errors, ct).ConfigureAwait(false);
            }
            else
            {
                owned.Add(keys);
                client = await ConnectClientAsync(host, target, Describe(target), target.Address, target.Port, keys, tunnelErrors: null, ct)
                    .ConfigureAwait(false);
            }
            return new SshHostTransport(host, target.User, client, owned, _options);
        }
        catch
        {
            SshHostTransport.DisposeQuietly(null, owned);
            throw;
        }
    }

    /// <summary>Opens the connection to a bastion that the hosts behind it share.</summary>
    private async Task<BastionConnection> OpenBastionAsync(SshEndpoint jump, CancellationToken ct)
    {
        var name = BastionPool.NameOf(jump);
        var keys = await SshKeys.LoadAsync(name, jump, _options, ct).ConfigureAwait(false);
        try
        {
            var client = await ConnectClientAsync(name, jump, "jump host " + Describe(jump), jump.Address, jump.Port, keys, tunnelErrors: null, ct)
                .ConfigureAwait(false);
            return new BastionConnection(client, keys);
        }
        catch
        {
            keys.Dispose();
            throw;
        }
    }

    /// <summary>Connections opened to bastions so far (one per bastion while hosts behind it are connected).</summary>
    internal int BastionConnectionsOpened => _bastions.Opened;

    internal static string Describe(SshEndpoint ep) => ep.Port == 22 ? ep.Address : $"{ep.Address}:{ep.Port}";

    /// <summary>Connects one SSH client with retries; pins or checks the host key of <paramref name="ep"/>.</summary>
    private async Task<SshClient> ConnectClientAsync(string host, SshEndpoint ep, string label, string dialAddress, int dialPort,
        SshKeySet keys, TunnelErrors? tunnelErrors, CancellationToken ct)
    {
        var pins = await KnownHosts.LookupAsync(ep.Address, ep.Port, ct).ConfigureAwait(false);
        var attempts = 0;
        var maxAttempts = ep.ConnectAttempts ?? _options.MaxConnectAttempts;
        var timeout = ep.ConnectTimeout ?? _options.ConnectTimeout;
        var pipeline = BuildRetryPipeline(host, label, maxAttempts);
        SshClient client;
        PinnedHostKey presented;
        try
        {
            (client, presented) = await pipeline.ExecuteAsync(async token =>
            {
                attempts++;
                _options.OnAttempt?.Invoke(new SshAttemptNotice(host, label, attempts, maxAttempts, timeout));
                return await AttemptAsync(host, ep, label, (dialAddress, dialPort), keys, pins, timeout, token).ConfigureAwait(false);
            }, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (IsTransient(e) && !ct.IsCancellationRequested)
        {
            var reason = Explain(e, timeout);
            if (tunnelErrors?.Last is { } te)
                reason = $"{label}: the jump host could not open a tunnel: {te.Message}";
            else
                reason = $"{label}: {reason}";
            throw new HostUnreachableException(host, $"{reason} (gave up after {attempts} attempt{(attempts == 1 ? "" : "s")})", e);
        }

        try
        {
            var before = await KnownHosts.PinAsync(ep.Address, ep.Port, presented, ct).ConfigureAwait(false);
            if (before.Count > 0 && !before.Any(p => SameKey(p, presented)))
                throw new HostKeyMismatchException(host, label, DescribePins(before, presented), presented.ToString(), KnownHosts.Path);
        }
        catch
        {
            client.Dispose();
            throw;
        }
        return client;
    }

    private ResiliencePipeline BuildRetryPipeline(string host, string label, int maxAttempts)
    {
        var builder = new ResiliencePipelineBuilder();
        if (maxAttempts > 1)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(IsTransient),
                MaxRetryAttempts = maxAttempts - 1,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = _options.RetryBaseDelay,
                MaxDelay = _options.RetryMaxDelay,
                OnRetry = args =>
                {
                    if (_options.OnRetry is { } notify && args.Outcome.Exception is { } error)
                        notify(new SshRetryNotice(host, label, args.AttemptNumber + 1, args.RetryDelay, error));
                    return default;
                },
            });
        }
        return builder.Build();
    }

    /// <summary>Failures worth another attempt: network trouble and timeouts, never authentication or host key refusal.</summary>
    internal static bool IsTransient(Exception e) => e switch
    {
        HostKeyMismatchException or DeployException or SshAuthenticationException => false,
        SocketException or SshConnectionException or SshOperationTimeoutException or TimeoutException or ProxyException => true,
        IOException => true, // connection reset while reading the identification banner, ...
        _ => false,
    };

    private static string Explain(Exception e, TimeSpan timeout) => e switch
    {
        SocketException { SocketErrorCode: SocketError.ConnectionRefused } => "connection refused",
        SocketException { SocketErrorCode: SocketError.TimedOut } => "connection timed out",
        SocketException { SocketErrorCode: SocketError.HostUnreachable or SocketError.NetworkUnreachable } s => s.Message.ToLowerInvariant(),
        SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData } s => $"cannot resolve address ({s.Message})",
        SshOperationTimeoutException => $"no SSH answer within {timeout.TotalSeconds:0.#} s",
        TimeoutException => $"timed out after {timeout.TotalSeconds:0.#} s",
        SshConnectionException s => $"SSH connection failed: {s.Message}",
        _ => e.Message,
    };

    private async Task<(SshClient, PinnedHostKey)> AttemptAsync(string host, SshEndpoint ep, string label, (string Address, int Port) dial,
        SshKeySet keys, IReadOnlyList<PinnedHostKey> pins, TimeSpan timeout, CancellationToken ct)
    {
        var info = new ConnectionInfo(dial.Address, dial.Port, ep.User, new PrivateKeyAuthenticationMethod(ep.User, [.. keys.Sources]))
        {
            Timeout = timeout,
            MaxSessions = _options.MaxConcurrentScripts,
            Encoding = ScriptEnvelope.Utf8,
        };
        PreferPinnedKeyTypes(info, pins);
        if (_options.PreferredKeyExchange is { } kex && info.KeyExchangeAlgorithms.ContainsKey(kex)) info.KeyExchangeAlgorithms.SetPosition(kex, 0);
        if (_options.PreferredCipher is { } cipher && info.Encryptions.ContainsKey(cipher)) info.Encryptions.SetPosition(cipher, 0);
        var client = new SshClient(info) { KeepAliveInterval = _options.KeepAliveInterval };
        var check = new HostKeyCheck(pins);
        client.HostKeyReceived += check.OnHostKey;
        try
        {
            await client.ConnectAsync(ct).ConfigureAwait(false);
            return (client, check.Presented ?? throw new SshConnectionException("the server presented no host key"));
        }
        catch (Exception e)
        {
            client.Dispose();
            if (check.Refused && check.Presented is { } presented)
                throw new HostKeyMismatchException(host, label, DescribePins(pins, presented), presented.ToString(), KnownHosts.Path);
            if (e is SshAuthenticationException)
                throw new DeployException($"host {host} ({label}): SSH authentication failed for user {ep.User} with {keys.Description}", e);
            throw;
        }
    }
}
