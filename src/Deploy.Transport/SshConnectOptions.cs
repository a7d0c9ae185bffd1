namespace Deploy.Transport;

/// <summary>A failed connection attempt that is about to be retried.</summary>
/// <param name="Host">Host name (inventory name) being connected.</param>
/// <param name="Endpoint">What was dialled: <c>addr:port</c>, or <c>jump host addr:port</c>.</param>
/// <param name="Attempt">1-based number of the attempt that failed.</param>
/// <param name="Delay">Wait before the next attempt.</param>
/// <param name="Error">Why the attempt failed.</param>
public sealed record SshRetryNotice(string Host, string Endpoint, int Attempt, TimeSpan Delay, Exception Error);

/// <summary>A connection attempt about to start (for -v: what a silent host is being waited for).</summary>
/// <param name="Timeout">How long this attempt waits for the server before giving up.</param>
public sealed record SshAttemptNotice(string Host, string Endpoint, int Attempt, int MaxAttempts, TimeSpan Timeout);

/// <summary>Tuning of <see cref="SshHostConnector"/>. The defaults suit real hosts; tests shorten the delays.</summary>
public sealed record SshConnectOptions
{
    /// <summary>Time allowed for one connection attempt (TCP connect, key exchange, authentication). Default 10 s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Attempts in all (first try included) on transient failures. Default 4.</summary>
    public int MaxConnectAttempts { get; init; } = 4;

    /// <summary>Base of the exponential backoff (with jitter) between attempts. Default 1 s.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Upper bound of one backoff delay. Default 15 s.</summary>
    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Scripts running at once over one connection (each is an SSH session channel). Further scripts wait.
    /// Keep it at or below the server's <c>MaxSessions</c> (OpenSSH default 10). Default 8.
    /// </summary>
    public int MaxConcurrentScripts { get; init; } = 8;

    /// <summary>SSH keep-alive interval of an open connection; <see cref="Timeout.InfiniteTimeSpan"/> turns it off. Default 30 s.</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Key exchange offered first. curve25519-sha256 by default: SSH.NET's own first choice, the post-quantum
    /// sntrup761x25519 hybrid, costs about 90 ms of CPU per connection in managed code, which is most of a no-op run
    /// over many hosts on a small controller. Null keeps SSH.NET's order.
    /// </summary>
    public string? PreferredKeyExchange { get; init; } = "curve25519-sha256";

    /// <summary>Cipher offered first: AES-GCM runs on the CPU's AES instructions through .NET. Null keeps SSH.NET's order.</summary>
    public string? PreferredCipher { get; init; } = "aes128-gcm@openssh.com";

    /// <summary>
    /// Times a script is run again, on a new connection, after its connection dropped while it ran (jittered
    /// exponential backoff from <see cref="RetryBaseDelay"/>). 0 turns resuming off. Default 2.
    /// </summary>
    public int MaxResumeAttempts { get; init; } = 2;

    /// <summary>Called before a script is run again on a new connection (for logging); must not throw.</summary>
    public Action<SshRetryNotice>? OnResume { get; init; }

    /// <summary>Called before each connection attempt (for verbose logging); must not throw.</summary>
    public Action<SshAttemptNotice>? OnAttempt { get; init; }

    /// <summary>The ssh-agent's socket; null or empty: no agent. Default: the <c>SSH_AUTH_SOCK</c> environment variable.</summary>
    public string? AgentSocket { get; init; } = Environment.GetEnvironmentVariable("SSH_AUTH_SOCK");

    /// <summary>Key files tried (those that exist) when an endpoint names none, after the agent's keys, as OpenSSH does.
    /// Default <c>~/.ssh/id_ed25519</c>, <c>id_ecdsa</c>, <c>id_rsa</c>.</summary>
    public IReadOnlyList<string> DefaultKeyFiles { get; init; } =
        [.. new[] { "id_ed25519", "id_ecdsa", "id_rsa" }.Select(name =>
            Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".ssh", name))];

    /// <summary>Called before each retry (for logging); must not throw.</summary>
    public Action<SshRetryNotice>? OnRetry { get; init; }

    internal void Validate()
    {
        if (ConnectTimeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(ConnectTimeout), ConnectTimeout, "must be positive");
        if (MaxConnectAttempts < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxConnectAttempts), MaxConnectAttempts, "must be at least 1");
        if (RetryBaseDelay < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(RetryBaseDelay), RetryBaseDelay, "must not be negative");
        if (RetryMaxDelay < RetryBaseDelay)
            throw new ArgumentOutOfRangeException(nameof(RetryMaxDelay), RetryMaxDelay, "must not be below RetryBaseDelay");
        if (MaxResumeAttempts < 0)
            throw new ArgumentOutOfRangeException(nameof(MaxResumeAttempts), MaxResumeAttempts, "must not be negative");
        if (MaxConcurrentScripts < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxConcurrentScripts), MaxConcurrentScripts, "must be at least 1");
    }
}
