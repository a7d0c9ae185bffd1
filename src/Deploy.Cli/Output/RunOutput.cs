using Deploy.Core.Engine;

namespace Deploy.Cli.Output;

/// <summary>
/// What a verb shows while it works, and keeps: a live table on a terminal (on stderr with --json, so stdout stays one
/// JSON document), plain lines on stderr otherwise, and for the verbs that change hosts the run's log files.
/// </summary>
public sealed class RunOutput : IRunLog, IDisposable
{
    private readonly IProgressDisplay _display;
    private readonly Func<string, string> _redact;

    public RunOutput(ConsoleMode mode, TextWriter stdout, TextWriter stderr, bool json, bool verbose, Func<string, string> redact)
    {
        _redact = redact;
        _display = mode.Live(json)
            ? new LiveProgress(mode.Console(json ? stderr : stdout, terminal: true), verbose, redact)
            : new ConsoleLog(stderr, verbose, redact);
    }

    /// <summary>The run's log files, once <see cref="KeepLogs"/> opened them.</summary>
    public RunLogs? Logs { get; private set; }

    /// <summary>Opens the run's log files (up, destroy): <c>.nf-deploy/logs/&lt;stack&gt;/&lt;run&gt;/&lt;host&gt;.log</c>.</summary>
    public RunLogs KeepLogs(string root, string stack, string verb) => Logs ??= RunLogs.Open(root, stack, verb, _redact);

    /// <summary>A line of the verb's own (the lab's containers...), above the live table when there is one.</summary>
    public void Line(string message) => _display.Line(message);

    public void Info(string message) => _display.Info(message);

    public void Host(string host, string message)
    {
        _display.Host(host, message);
        Logs?.Host(host, message);
    }

    public void Warn(string host, string message)
    {
        _display.Warn(host, message);
        Logs?.Warn(host, message);
    }

    public void Progress(HostProgress progress)
    {
        _display.Progress(progress);
        Logs?.Progress(progress);
    }

    /// <summary>Ends the live table before the verb prints its plan or summary (a later phase starts a new one).</summary>
    public void Pause() => _display.Pause();

    public void Dispose()
    {
        _display.Dispose();
        Logs?.Dispose();
    }
}

/// <summary>How progress is shown: a live table or plain lines.</summary>
public interface IProgressDisplay : IRunLog, IDisposable
{
    /// <summary>A line of the verb's own, always shown.</summary>
    void Line(string message);

    /// <summary>Stops any live rendering until the next progress.</summary>
    void Pause();
}
