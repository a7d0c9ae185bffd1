using Deploy.Core.Engine;

namespace Deploy.Cli;

/// <summary>Progress on stderr (stdout stays clean for --json), one line per event, safe from many threads.</summary>
public sealed class ConsoleLog(TextWriter writer, bool verbose, Func<string, string>? redact = null) : IRunLog
{
    private readonly Lock _gate = new();

    public void Info(string message) { if (verbose) Write(message); }

    public void Host(string host, string message) => Write($"{host}: {message}");

    public void Warn(string host, string message) => Write($"{host}: error: {message}");

    private void Write(string line)
    {
        line = redact?.Invoke(line) ?? line;
        lock (_gate) writer.WriteLine(line);
    }
}
