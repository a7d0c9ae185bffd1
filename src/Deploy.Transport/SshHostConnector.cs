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
        var keys = new List<PrivateKeyFile>();
        SshClient? bastion = null;
        ForwardedPortLocal? tunnel = null;
        try
        {
            var targetKey = await LoadKeyAsync(host, target.KeyFile, ct).ConfigureAwait(false);
            keys.Add(targetKey);
            SshClient client;
            if (connection.Jump is { } jump)
            {
                var jumpKey = jump.KeyFile == target.KeyFile ? targetKey : await LoadKeyAsync(host, jump.KeyFile, ct).ConfigureAwait(false);
                if (!ReferenceEquals(jumpKey, targetKey))
                    keys.Add(jumpKey);
                var jumpLabel = "jump host " + Describe(jump);
                bastion = await ConnectClientAsync(host, jump, jumpLabel, jump.Address, jump.Port, jumpKey, tunnelErrors: null, ct)
                    .ConfigureAwait(false);
                tunnel = new ForwardedPortLocal("127.0.0.1", 0, target.Address, (uint)target.Port);
                var tunnelErrors = new TunnelErrors();
                tunnel.Exception += (_, e) => tunnelErrors.Last = e.Exception;
                bastion.AddForwardedPort(tunnel);
                tunnel.Start();
                client = await ConnectClientAsync(host, target, $"{Describe(target)} via {jumpLabel}", "127.0.0.1", (int)tunnel.BoundPort,
                    targetKey, tunnelErrors, ct).ConfigureAwait(false);
            }
            else
            {
                client = await ConnectClientAsync(host, target, Describe(target), target.Address, target.Port, targetKey, tunnelErrors: null, ct)
                    .ConfigureAwait(false);
            }
            return new SshHostTransport(host, target.User, client, bastion, tunnel, keys, _options);
        }
        catch
        {
            SshHostTransport.DisposeQuietly(null, bastion, tunnel, keys);
            throw;
        }
    }

    private sealed class TunnelErrors
    {
        public volatile Exception? Last;
    }

    internal static string Describe(SshEndpoint ep) => ep.Port == 22 ? ep.Address : $"{ep.Address}:{ep.Port}";

    private static async Task<PrivateKeyFile> LoadKeyAsync(string host, string path, CancellationToken ct)
    {
        byte[] bytes;
        try
        {
            bytes = await File.ReadAllBytesAsync(path, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new DeployException($"host {host}: cannot read SSH key {path}: {e.Message}", e);
        }
        try
        {
            return new PrivateKeyFile(new MemoryStream(bytes, writable: false));
        }
        catch (SshPassPhraseNullOrEmptyException e)
        {
            throw new DeployException($"host {host}: cannot read SSH key {path}: the key is protected by a passphrase; use a key without one", e);
        }
        catch (Exception e) when (e is SshException or ArgumentException or FormatException or InvalidOperationException
                                      or NotSupportedException or CryptographicException or IndexOutOfRangeException or EndOfStreamException)
        {
            throw new DeployException($"host {host}: cannot read SSH key {path}: not a usable private key ({e.Message})", e);
        }
    }

    /// <summary>Connects one SSH client with retries; pins or checks the host key of <paramref name="ep"/>.</summary>
    private async Task<SshClient> ConnectClientAsync(string host, SshEndpoint ep, string label, string dialAddress, int dialPort,
        PrivateKeyFile key, TunnelErrors? tunnelErrors, CancellationToken ct)
    {
        var pins = await KnownHosts.LookupAsync(ep.Address, ep.Port, ct).ConfigureAwait(false);
        var attempts = 0;
        var pipeline = BuildRetryPipeline(host, label);
        SshClient client;
        PinnedHostKey presented;
        try
        {
            (client, presented) = await pipeline.ExecuteAsync(async token =>
            {
                attempts++;
                return await AttemptAsync(host, ep, label, dialAddress, dialPort, key, pins, token).ConfigureAwait(false);
            }, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (IsTransient(e) && !ct.IsCancellationRequested)
        {
            var reason = Explain(e);
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

    private ResiliencePipeline BuildRetryPipeline(string host, string label)
    {
        var builder = new ResiliencePipelineBuilder();
        if (_options.MaxConnectAttempts > 1)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(IsTransient),
                MaxRetryAttempts = _options.MaxConnectAttempts - 1,
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

    private string Explain(Exception e) => e switch
    {
        SocketException { SocketErrorCode: SocketError.ConnectionRefused } => "connection refused",
        SocketException { SocketErrorCode: SocketError.TimedOut } => "connection timed out",
        SocketException { SocketErrorCode: SocketError.HostUnreachable or SocketError.NetworkUnreachable } s => s.Message.ToLowerInvariant(),
        SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData } s => $"cannot resolve address ({s.Message})",
        SshOperationTimeoutException => $"no SSH answer within {_options.ConnectTimeout.TotalSeconds:0.#} s",
        TimeoutException => $"timed out after {_options.ConnectTimeout.TotalSeconds:0.#} s",
        SshConnectionException s => $"SSH connection failed: {s.Message}",
        _ => e.Message,
    };

    private async Task<(SshClient, PinnedHostKey)> AttemptAsync(string host, SshEndpoint ep, string label, string dialAddress, int dialPort,
        PrivateKeyFile key, IReadOnlyList<PinnedHostKey> pins, CancellationToken ct)
    {
        var info = new ConnectionInfo(dialAddress, dialPort, ep.User, new PrivateKeyAuthenticationMethod(ep.User, key))
        {
            Timeout = _options.ConnectTimeout,
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
                throw new DeployException($"host {host} ({label}): SSH authentication failed for user {ep.User} with key {ep.KeyFile}", e);
            throw;
        }
    }
}
