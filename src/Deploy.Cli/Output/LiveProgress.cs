using Deploy.Core.Engine;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Deploy.Cli.Output;

/// <summary>
/// The run on a terminal: a Spectre.Console live table at the bottom (per host: phase, current step with how long it
/// has run, done/total, elapsed, a spinner while the host works: a long apt install still moves), and the engine's lines
/// above it. It starts at the first progress a host reports and stops at <see cref="Pause"/> (the verb then prints
/// its plan or summary); the next progress starts it again.
/// </summary>
public sealed class LiveProgress(IAnsiConsole console, bool verbose, Func<string, string> redact) : IProgressDisplay
{
    private static readonly string[] Spinner = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(200);

    private readonly Lock _gate = new();
    private HostBoard _board = new();
    private Task? _display;
    private CancellationTokenSource? _stop;
    private int _frame;

    public void Info(string message) { if (verbose) WriteMarkup($"[grey]{Markup.Escape(redact(message))}[/]"); }

    public void Line(string message) => WriteMarkup(Markup.Escape(redact(message)));

    public void Host(string host, string message) => WriteMarkup($"[bold]{Markup.Escape(host)}[/]: {Markup.Escape(redact(message))}");

    public void Warn(string host, string message) =>
        WriteMarkup($"[bold]{Markup.Escape(host)}[/]: [red]error:[/] {Markup.Escape(redact(message))}");

    public void Progress(HostProgress progress)
    {
        _board.Report(progress with { Step = progress.Step is null ? null : redact(progress.Step) });
        lock (_gate)
        {
            if (_display is not null) return;
            _stop = new CancellationTokenSource();
            var stop = _stop.Token;
            _display = console.Live(Render()).AutoClear(false).Overflow(VerticalOverflow.Ellipsis)
                .StartAsync(async context =>
                {
                    while (!stop.IsCancellationRequested)
                    {
                        lock (_gate) context.UpdateTarget(Render());
                        try { await Task.Delay(Tick, stop); }
                        catch (OperationCanceledException) { }
                    }
                    lock (_gate) context.UpdateTarget(Render());
                });
        }
    }

    /// <summary>Stops the table (its last frame stays on screen) before the verb prints; a new phase starts a new table.</summary>
    public void Pause()
    {
        Task? display;
        lock (_gate)
        {
            display = _display;
            _stop?.Cancel();
        }
        display?.GetAwaiter().GetResult();
        lock (_gate)
        {
            _display = null;
            _stop?.Dispose();
            _stop = null;
            _board = new HostBoard();
        }
    }

    public void Dispose() => Pause();

    private void WriteMarkup(string markup)
    {
        lock (_gate) console.MarkupLine(markup);
    }

    private IRenderable Render()
    {
        var frame = Spinner[_frame++ % Spinner.Length];
        var table = new Table().Border(TableBorder.Rounded).BorderColor(Color.Grey)
            .AddColumn("HOST").AddColumn("PHASE").AddColumn("STEP").AddColumn(new TableColumn("DONE").RightAligned())
            .AddColumn(new TableColumn("ELAPSED").RightAligned());
        foreach (var (host, row) in _board.Rows)
        {
            var last = row.Last;
            var (colour, mark) = last.Phase switch
            {
                RunPhase.Done => ("green", "✓"),
                RunPhase.Failed => ("red", "✗"),
                RunPhase.Connect or RunPhase.Read => ("yellow", frame),
                _ => ("blue", frame),
            };
            var step = last.Step ?? "";
            var stepTime = _board.StepElapsed(row);
            // the heartbeat: a step that runs long (an apt install) shows how long it has been running, second by second
            var room = Math.Max(16, console.Profile.Width - 50);
            if (step.Length > room) step = step[..(room - 1)] + "…";
            if (!last.Ended && step.Length > 0 && stepTime >= TimeSpan.FromSeconds(2)) step += $" ({HostBoard.Format(stepTime)})";
            table.AddRow(
                new Markup($"[bold]{Markup.Escape(host)}[/]"),
                new Markup($"[{colour}]{mark} {HostBoard.Name(last.Phase)}[/]"),
                new Markup(last.Phase == RunPhase.Failed ? $"[red]{Markup.Escape(step)}[/]" : Markup.Escape(step)),
                new Text(last.Total > 0 ? $"{last.Done}/{last.Total}" : ""),
                new Text(HostBoard.Format(_board.Elapsed(row))));
        }
        return table;
    }
}
