namespace Deploy.Core.Transport;

/// <summary>What a remote (or local) command printed and how it ended.</summary>
public readonly record struct ExecResult(int ExitCode, string Stdout, string Stderr)
{
    public bool Ok => ExitCode == 0;
}

/// <summary>One SSH endpoint: where to connect and as whom.</summary>
/// <param name="KeyFile">Path of the private key used for key authentication.</param>
public sealed record SshEndpoint(string Address, int Port, string User, string KeyFile);

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
