namespace Deploy.Core.Model;

/// <summary>A user-facing error: its message is printed as is, never with a stack trace.</summary>
public class DeployException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The state (checkpoint) could not be written during a run: the whole run stops there, no host is rolled
/// back for it (the hosts keep what was applied; the next run reads them live and converges).</summary>
public sealed class StateWriteException(string message, Exception? inner = null) : DeployException(message, inner);

/// <summary>An error in a site file or template, located by file and line.</summary>
public sealed class SiteException(string file, int line, string message, string? host = null)
    : DeployException(Format(file, line, message, host))
{
    public string File { get; } = file;
    public int Line { get; } = line;
    public string? Host { get; } = host;
    public string Reason { get; } = message;

    private static string Format(string file, int line, string message, string? host) =>
        (line > 0 ? $"{file}:{line}: " : $"{file}: ") + message + (host is null ? "" : $" (rendering for host {host})");
}

/// <summary>Several site errors found in one pass.</summary>
public sealed class SiteErrors(IReadOnlyList<SiteException> errors)
    : DeployException(string.Join(Environment.NewLine, errors.Select(e => e.Message)))
{
    public IReadOnlyList<SiteException> Errors { get; } = errors;
}

/// <summary>A host could not be reached (after retries).</summary>
public sealed class HostUnreachableException(string host, string reason, Exception? inner = null)
    : DeployException($"host {host}: unreachable: {reason}", inner)
{
    public string Host { get; } = host;

    /// <summary>The message without the host.</summary>
    public string Reason { get; } = reason;
}

/// <summary>
/// A host not reached because its bastion (jump host) is down: one cause shared by every host behind it, reported once
/// ("bastion b1 unreachable: 4 hosts not read: ..."), not per host.
/// </summary>
public sealed class BastionUnreachableException(string host, string bastion, string reason, Exception? inner = null)
    : DeployException($"host {host}: not read: bastion {bastion} unreachable", inner)
{
    public string Host { get; } = host;
    public string Bastion { get; } = bastion;

    /// <summary>Why the bastion could not be reached (the same for every host behind it).</summary>
    public string Reason { get; } = reason;
}

/// <summary>The host presented an SSH host key different from the one pinned on first contact.</summary>
public sealed class HostKeyMismatchException : DeployException
{
    public HostKeyMismatchException(string host, string address, string expected, string actual, string knownHostsFile)
        : this(host, $"host {host} ({address}): SSH host key changed: pinned {expected}, presented {actual}. " +
            $"Refusing to connect. If the host was legitimately rebuilt, remove its line from {knownHostsFile}.")
    {
    }

    private HostKeyMismatchException(string host, string message) : base(message) => Host = host;

    public string Host { get; }

    /// <summary>The refusal as another process (the SSH broker that keeps connections) reported it.</summary>
    public static HostKeyMismatchException Refused(string host, string message) => new(host, message);
}

/// <summary>A resource failed on a host at run time.</summary>
public sealed class ResourceException(string host, string resource, string message)
    : DeployException($"host {host}: {resource}: {message}")
{
    public string Host { get; } = host;
    public string Resource { get; } = resource;

    /// <summary>The message without the host and resource.</summary>
    public string Reason { get; } = message;
}
