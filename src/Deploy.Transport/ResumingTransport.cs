using Deploy.Core.Model;
using Deploy.Core.Transport;
using Polly;
using Polly.Retry;

namespace Deploy.Transport;

/// <summary>The connection broke while a script ran (the host rebooted its sshd, a NAT dropped the flow...).</summary>
internal sealed class ConnectionLostException(string message, Exception? inner) : Exception(message, inner);

/// <summary>
/// A host's connection that survives being dropped: when it breaks while a script runs, the connection is opened again
/// (with the connector's own retries) and the script runs again, a bounded number of times with jittered exponential
/// backoff (<see cref="SshConnectOptions.MaxResumeAttempts"/>). This is sound because every script the engine sends
/// converges: reads are pure, files are replaced whole by rename and their backups are never overwritten, package and
/// service steps are idempotent. When the attempts are used up the script fails with <see cref="HostUnreachableException"/>.
/// </summary>
internal sealed class ResumingTransport : IHostTransport
{
    private readonly Func<CancellationToken, Task<SshHostTransport>> _connect;
    private readonly SshConnectOptions _options;
    private readonly SemaphoreSlim _reconnect = new(1, 1);
    private readonly ResiliencePipeline _pipeline;
    private SshHostTransport _current;
    private int _generation;
    private int _disposed;

    public ResumingTransport(SshHostTransport first, Func<CancellationToken, Task<SshHostTransport>> connect, SshConnectOptions options)
    {
        _current = first;
        _connect = connect;
        _options = options;
        HostName = first.HostName;
        var builder = new ResiliencePipelineBuilder();
        if (options.MaxResumeAttempts > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<ConnectionLostException>(),
                MaxRetryAttempts = options.MaxResumeAttempts,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryBaseDelay,
                MaxDelay = options.RetryMaxDelay,
                OnRetry = args =>
                {
                    if (options.OnResume is { } notify && args.Outcome.Exception is { } error)
                        notify(new SshRetryNotice(HostName, "resume", args.AttemptNumber + 1, args.RetryDelay, error));
                    return default;
                },
            });
        }
        _pipeline = builder.Build();
    }

    public string HostName { get; }

    /// <summary>How many times the connection was opened again (tests and logs).</summary>
    public int Reconnects => Volatile.Read(ref _generation);

    public async Task<ExecResult> RunAsync(string script, CancellationToken ct)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var attempts = 0;
        try
        {
            return await _pipeline.ExecuteAsync(async token =>
            {
                attempts++;
                // a retry reconnects, unless another script already did: then it runs on that new connection
                var transport = attempts == 1 ? _current : await ReconnectAsync(token).ConfigureAwait(false);
                return await transport.RunAsync(script, token).ConfigureAwait(false);
            }, ct).ConfigureAwait(false);
        }
        catch (ConnectionLostException e)
        {
            throw new HostUnreachableException(HostName,
                $"{e.Message} (gave up after {attempts} attempt{(attempts == 1 ? "" : "s")} to run the step again)", e.InnerException);
        }
    }

    /// <summary>Opens a new connection unless one that is still good replaced the broken one meanwhile.</summary>
    private async Task<SshHostTransport> ReconnectAsync(CancellationToken ct)
    {
        var seen = Volatile.Read(ref _generation);
        await _reconnect.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (Volatile.Read(ref _generation) != seen || _current.IsAlive)
                return _current;
            var old = _current;
            SshHostTransport fresh;
            try
            {
                fresh = await _connect(ct).ConfigureAwait(false);
            }
            catch (HostUnreachableException e)
            {
                // cannot reconnect (after the connector's own retries): this attempt fails like the lost connection did
                throw new ConnectionLostException($"connection lost and not reopened: {e.Message}", e);
            }
            _current = fresh;
            Interlocked.Increment(ref _generation);
            await old.DisposeAsync().ConfigureAwait(false);
            return fresh;
        }
        finally
        {
            _reconnect.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _current.DisposeAsync().ConfigureAwait(false);
        _reconnect.Dispose();
    }
}
