using System.Collections.Concurrent;
using System.Globalization;
using Deploy.Core.Engine;
using Deploy.Core.Transport;

namespace Deploy.Cli.Output;

/// <summary>
/// A run's log files: <c>.nf-deploy/logs/&lt;stack&gt;/&lt;run&gt;/&lt;host&gt;.log</c>, one per host, holding what the engine
/// said of the host (its phases and steps, warnings) and the whole output of every script run on it (through
/// <see cref="Watch"/>), every secret value masked. Runs are named by their UTC start (they sort by age) and a stack keeps
/// its last <see cref="Keep"/>. Files are the operator's alone (0600, folders 0700).
/// </summary>
public sealed class RunLogs : IRunLog, IDisposable
{
    public const int Keep = 10;

    private readonly Func<string, string> _redact;
    private readonly ConcurrentDictionary<string, HostFile> _files = new(StringComparer.Ordinal);

    private RunLogs(string dir, Func<string, string> redact)
    {
        Dir = dir;
        _redact = redact;
    }

    /// <summary>The run's folder.</summary>
    public string Dir { get; }

    /// <summary>Makes the run's folder under <paramref name="root"/>/<paramref name="stack"/> and removes the stack's oldest
    /// runs beyond <see cref="Keep"/> (this one included).</summary>
    public static RunLogs Open(string root, string stack, string verb, Func<string, string> redact)
    {
        var stackDir = Path.Combine(root, stack);
        var name = DateTime.UtcNow.ToString("yyyyMMdd'T'HHmmss.fff'Z'", CultureInfo.InvariantCulture) + "-" + verb;
        var dir = Path.Combine(stackDir, name);
        for (var n = 2; Directory.Exists(dir); n++) dir = Path.Combine(stackDir, $"{name}.{n}");
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(dir);
        else Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        foreach (var old in Directory.GetDirectories(stackDir).Order(StringComparer.Ordinal).SkipLast(Keep))
        {
            try { Directory.Delete(old, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* another day: a log folder in use stays */ }
        }
        return new RunLogs(dir, redact);
    }

    /// <summary>A connector whose transports copy every script's output into their host's log.</summary>
    public IHostConnector Watch(IHostConnector inner) => new WatchedConnector(inner, this);

    public void Info(string message) { }

    public void Host(string host, string message) => Write(host, message);

    public void Warn(string host, string message) => Write(host, "error: " + message);

    public void Progress(HostProgress progress) =>
        Write(progress.Host, $"[{HostBoard.Name(progress.Phase)}]" + (progress.Total > 0 ? $" {progress.Done}/{progress.Total}" : "") +
            (progress.Step is null ? "" : " " + progress.Step));

    /// <summary>One script's run: its output whole (stdout, then stderr), exit code and duration.</summary>
    internal void Script(string host, ExecResult result, TimeSpan took)
    {
        var text = new System.Text.StringBuilder();
        text.Append($"script: exit {result.ExitCode} after {took.TotalSeconds:0.000}s, ")
            .Append($"{result.Stdout.Length} bytes out, {result.Stderr.Length} bytes err\n");
        if (result.Stdout.Length > 0) text.Append("--- stdout\n").Append(result.Stdout.TrimEnd('\n')).Append('\n');
        if (result.Stderr.Length > 0) text.Append("--- stderr\n").Append(result.Stderr.TrimEnd('\n')).Append('\n');
        Write(host, text.ToString().TrimEnd('\n'));
    }

    internal void Write(string host, string text) =>
        _files.GetOrAdd(host, h => new HostFile(Path.Combine(Dir, SafeName(h) + ".log"))).Write(_redact(text));

    public void Dispose()
    {
        foreach (var f in _files.Values) f.Dispose();
    }

    // host names are validated by the site loader; a name that is no plain file name still cannot leave the folder
    private static string SafeName(string host) =>
        string.Concat(host.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' ? c : '_')).TrimStart('.');

    private sealed class HostFile(string path) : IDisposable
    {
        private readonly Lock _gate = new();
        private readonly StreamWriter _writer = new(new FileStream(path, Options())) { AutoFlush = true };

        private static FileStreamOptions Options()
        {
            var options = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.Read };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            return options;
        }

        public void Write(string text)
        {
            var stamp = DateTime.UtcNow.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);
            lock (_gate) _writer.Write($"{stamp} {text}\n");
        }

        public void Dispose()
        {
            lock (_gate) _writer.Dispose();
        }
    }

    private sealed class WatchedConnector(IHostConnector inner, RunLogs logs) : IHostConnector
    {
        public async Task<IHostTransport> ConnectAsync(HostConnection connection, CancellationToken ct)
        {
            try { return new WatchedTransport(await inner.ConnectAsync(connection, ct), connection.HostName, logs); }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logs.Write(connection.HostName, $"connect to {connection.Endpoint.Address}:{connection.Endpoint.Port} failed: {e.Message}");
                throw;
            }
        }
    }

    private sealed class WatchedTransport(IHostTransport inner, string host, RunLogs logs) : IHostTransport
    {
        public string HostName => inner.HostName;

        public async Task<ExecResult> RunAsync(string script, CancellationToken ct)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            try
            {
                var result = await inner.RunAsync(script, ct);
                logs.Script(host, result, clock.Elapsed);
                return result;
            }
            catch (Exception e)
            {
                var how = e is OperationCanceledException ? "cancelled" : "failed";
                logs.Write(host, $"script: {how} after {clock.Elapsed.TotalSeconds:0.000}s: {e.Message}");
                throw;
            }
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
