using System.Net.Sockets;
using Deploy.Core.Model;
using Deploy.Core.Transport;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace Deploy.Transport;

/// <summary>
/// One open SSH connection to a host (possibly tunnelled through a jump host). Each script runs in its own SSH
/// session channel as <c>/bin/sh -s</c> (<c>sudo -n /bin/sh -s</c> for a non-root user) with its text on stdin;
/// up to <see cref="SshConnectOptions.MaxConcurrentScripts"/> scripts run at once, the others wait their turn.
/// <para>
/// Cancelling a script is best effort: a TERM signal is requested and the channel is closed, and
/// <see cref="RunAsync"/> throws <see cref="OperationCanceledException"/> within about a second. OpenSSH refuses
/// signals on root logins, so there (as with <c>ssh host cmd</c> and Ctrl-C) commands already started on the host
/// run to their end.
/// </para>
/// <para>A connection that breaks while a script runs gives <see cref="ConnectionLostException"/>: <see cref="ResumingTransport"/>
/// opens it again and runs the script again.</para>
/// </summary>
internal sealed class SshHostTransport : IHostTransport
{
    /// <summary>Stdin is sent in pieces so that writing stops soon after the remote command has ended.</summary>
    private const int StdinChunk = 32 * 1024;

    private readonly SshClient _client;
    private readonly IReadOnlyList<IDisposable> _owned;
    private readonly SemaphoreSlim _sessions;
    private readonly string _commandText;
    private int _disposed;

    /// <param name="owned">Closed after the connection, in order: the tunnel through a shared bastion, the keys.</param>
    public SshHostTransport(string hostName, string user, SshClient client, IReadOnlyList<IDisposable> owned, SshConnectOptions options)
    {
        HostName = hostName;
        _client = client;
        _owned = owned;
        _sessions = new SemaphoreSlim(options.MaxConcurrentScripts, options.MaxConcurrentScripts);
        _commandText = ScriptEnvelope.RemoteCommand(user);
    }

    public string HostName { get; }

    /// <summary>False once the connection is known to be broken.</summary>
    public bool IsAlive => Volatile.Read(ref _disposed) == 0 && _client.IsConnected;

    public async Task<ExecResult> RunAsync(string script, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(script);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var payload = ScriptEnvelope.Utf8.GetBytes(ScriptEnvelope.Wrap(script));
        await _sessions.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            return await RunOneAsync(payload, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (IsConnectionLoss(e) && !ct.IsCancellationRequested)
        {
            throw new ConnectionLostException($"connection lost: {e.Message}", e);
        }
        finally
        {
            _sessions.Release();
        }
    }

    private static bool IsConnectionLoss(Exception e) => e is SshConnectionException or SocketException or SshOperationTimeoutException;

    private async Task<ExecResult> RunOneAsync(byte[] payload, CancellationToken ct)
    {
        var command = _client.CreateCommand(_commandText, ScriptEnvelope.Utf8);
        Task? writer = null;
        try
        {
            // ExecuteAsync opens the channel and waits for the server to accept the exec request, blocking its thread
            // (for seconds on a busy server), and writing stdin blocks on the SSH window: both get their own threads
            // rather than starving the thread pool when many hosts run at once.
            // The task ExecuteAsync returns is the lifetime of the remote command.
            var execution = await Task.Factory.StartNew(() => command.ExecuteAsync(ct), CancellationToken.None,
                TaskCreationOptions.DenyChildAttach | TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
            writer = Task.Factory.StartNew(() => WriteStdin(command, execution, payload), CancellationToken.None,
                TaskCreationOptions.DenyChildAttach | TaskCreationOptions.LongRunning, TaskScheduler.Default);
            await execution.ConfigureAwait(false);

            var stdout = command.Result;
            var stderr = command.Error;
            int exitCode;
            if (command.ExitStatus is { } status)
            {
                exitCode = status;
            }
            else if (command.ExitSignal is { } signal)
            {
                exitCode = 128 + SignalNumber(signal);
                stderr += $"{(stderr.Length == 0 || stderr.EndsWith('\n') ? "" : "\n")}(killed by signal {signal})\n";
            }
            else if (!_client.IsConnected)
            {
                throw new ConnectionLostException("connection lost: the session ended without an exit status", null);
            }
            else
            {
                exitCode = -1;
            }
            return new ExecResult(exitCode, stdout, stderr);
        }
        finally
        {
            // Writing can only still be going on when the command ended early (or was cancelled); its errors do not matter.
            if (writer is { IsCompleted: false })
                _ = writer.ContinueWith(static t => _ = t.Exception, CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            else if (writer is { IsFaulted: true })
                _ = writer.Exception;
            // Closes the channel (best effort stop of a cancelled command); waits briefly for the server to confirm.
            await Task.Run(command.Dispose, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private static void WriteStdin(SshCommand command, Task execution, byte[] payload)
    {
        Stream input;
        try
        {
            input = command.CreateInputStream();
        }
        catch (InvalidOperationException) when (execution.IsCompleted)
        {
            return; // the command has already ended
        }
        using (input)
        {
            for (var offset = 0; offset < payload.Length && !execution.IsCompleted; offset += StdinChunk)
                input.Write(payload, offset, Math.Min(StdinChunk, payload.Length - offset));
        } // disposing sends EOF: the shell then runs what it read and exits
    }

    private static int SignalNumber(string signal) => signal switch
    {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ILL" => 4,
        "ABRT" => 6,
        "FPE" => 8,
        "KILL" => 9,
        "USR1" => 10,
        "SEGV" => 11,
        "USR2" => 12,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        _ => 0,
    };

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        await Task.Run(() => DisposeQuietly(_client, _owned), CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Closes the connection, then what it owned (its tunnel, its keys), in order; ignores errors.</summary>
    internal static void DisposeQuietly(SshClient? client, IEnumerable<IDisposable> owned)
    {
        Quietly(() => client?.Disconnect());
        Quietly(() => client?.Dispose());
        foreach (var disposable in owned)
            Quietly(disposable.Dispose);
    }

    internal static void Quietly(Action action)
    {
        try
        {
            action();
        }
#pragma warning disable CA1031 // disposal must go on whatever happens
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }
}
