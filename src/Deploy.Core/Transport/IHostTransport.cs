namespace Deploy.Core.Transport;

/// <summary>What a remote (or local) command printed and how it ended.</summary>
public readonly record struct ExecResult(int ExitCode, string Stdout, string Stderr)
{
    public bool Ok => ExitCode == 0;
}

/// <summary>One SSH endpoint: where to connect and as whom.</summary>
/// <param name="KeyFile">Path of the private key used for key authentication; null: the keys of the ssh-agent
/// (<c>SSH_AUTH_SOCK</c>), else the user's default keys (<c>~/.ssh/id_ed25519</c>, <c>id_ecdsa</c>, <c>id_rsa</c>).</param>
public sealed record SshEndpoint(string Address, int Port, string User, string? KeyFile)
{
    /// <summary>The name messages give this endpoint (a bastion's inventory name); null: its address.</summary>
    public string? Name { get; init; }

    /// <summary>Where the passphrase of <see cref="KeyFile"/> comes from; null: the key has none (or the agent holds it).</summary>
    public SshKeyPassphrase? Passphrase { get; init; }

    /// <summary>Offer the ssh-agent's keys too (when <c>SSH_AUTH_SOCK</c> is set). Default true.</summary>
    public bool UseAgent { get; init; } = true;

    /// <summary>Time allowed for one connection attempt; null: the connector's default.</summary>
    public TimeSpan? ConnectTimeout { get; init; }

    /// <summary>Connection attempts in all (first try included); null: the connector's default.</summary>
    public int? ConnectAttempts { get; init; }
}

/// <summary>Where a key's passphrase is read at connect time: an environment variable or a file (never the site files).</summary>
/// <param name="Source">What to name in messages, e.g. <c>environment variable OPS_KEY_PASSPHRASE</c>.</param>
public sealed record SshKeyPassphrase(string? EnvironmentVariable, string? File)
{
    public string Source => EnvironmentVariable is { } name ? $"environment variable {name}" : $"file {File}";
}

/// <summary>How to reach a host: its endpoint, optionally through a jump host (bastion).</summary>
public sealed record HostConnection(string HostName, SshEndpoint Endpoint, SshEndpoint? Jump = null)
{
    /// <summary>True when commands must be elevated with sudo (the user is not root).</summary>
    public bool NeedsSudo => Endpoint.User != "root";
}

/// <summary>
/// An open connection to one host. Every script is POSIX sh, runs as root (through <c>sudo -n</c> when the
/// login user is not root) and travels on stdin, never on the command line, so that nothing in it shows in <c>ps</c>.
/// One transport holds one SSH connection for the whole run; scripts may run concurrently on it.
/// </summary>
public interface IHostTransport : IAsyncDisposable
{
    string HostName { get; }

    Task<ExecResult> RunAsync(string script, CancellationToken ct);
}

public interface IHostConnector
{
    /// <summary>Opens the connection (retrying transient failures). Throws <see cref="HostUnreachableException"/>
    /// or <see cref="HostKeyMismatchException"/>.</summary>
    Task<IHostTransport> ConnectAsync(HostConnection connection, CancellationToken ct);
}
