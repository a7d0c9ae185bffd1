using Deploy.Cli.Output;
using Deploy.Core.Engine;

namespace Deploy.Cli;

/// <summary>Progress as plain lines on stderr (stdout stays clean for --json), one line per event, safe from many
/// threads: without a terminal, in CI, or with output redirected. A host's read is announced, its end is told with its
/// time, and a step that runs long (an apt install) gets a heartbeat line every <see cref="HeartbeatEvery"/>.</summary>
public sealed class ConsoleLog(TextWriter writer, bool verbose, Func<string, string>? redact = null) : IProgressDisplay
{
    public static readonly TimeSpan HeartbeatEvery = TimeSpan.FromSeconds(30);

    private readonly Lock _gate = new();
    private readonly HostBoard _board = new();
    private Timer? _heartbeat;

    public void Info(string message) { if (verbose) Write(message); }

    public void Line(string message) => Write(message);

    public void Pause() { }

    public void Host(string host, string message) => Write($"{host}: {message}");

    public void Warn(string host, string message) => Write($"{host}: error: {message}");

    public void Progress(HostProgress progress)
    {
        var row = _board.Report(progress);
        if (progress is { Phase: RunPhase.Read, Done: 0 }) Write($"{progress.Host}: reading {progress.Step}");
        if (progress.Phase == RunPhase.Done) Write($"{progress.Host}: done in {HostBoard.Format(_board.Elapsed(row))} ({progress.Step})");
        lock (_gate) _heartbeat ??= new Timer(_ => Heartbeat(), null, HeartbeatEvery, HeartbeatEvery);
    }

    public void Dispose()
    {
        lock (_gate) _heartbeat?.Dispose();
    }

    private void Heartbeat()
    {
        foreach (var (host, row) in _board.Rows)
        {
            var running = _board.StepElapsed(row);
            if (row.Ended is null && running >= HeartbeatEvery)
                Write($"{host}: still at {HostBoard.Name(row.Last.Phase)}{(row.Last.Step is { } s ? " " + s : "")} " +
                    $"({HostBoard.Format(running)}" +
                    (row.Last.Total > 0 ? $", {row.Last.Done}/{row.Last.Total} done" : "") + ")");
        }
    }

    private void Write(string line)
    {
        line = redact?.Invoke(line) ?? line;
        lock (_gate) writer.WriteLine(line);
    }
}
