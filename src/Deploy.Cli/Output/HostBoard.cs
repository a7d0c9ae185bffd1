using System.Collections.Immutable;
using System.Diagnostics;
using Deploy.Core.Engine;

namespace Deploy.Cli.Output;

/// <summary>Where every host of the run is: the last progress it reported, since when, and since when its step runs.
/// Shared by the live table and the plain lines' heartbeat; safe from many threads.</summary>
public sealed class HostBoard
{
    /// <summary>One host's row. <see cref="Ended"/> stops its clock.</summary>
    public sealed record Row(HostProgress Last, TimeSpan Started, TimeSpan StepStarted, TimeSpan? Ended);

    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _gate = new();
    private ImmutableSortedDictionary<string, Row> _rows = ImmutableSortedDictionary.Create<string, Row>(StringComparer.Ordinal);

    public TimeSpan Now => _clock.Elapsed;

    public ImmutableSortedDictionary<string, Row> Rows => _rows;

    /// <summary>Records a host's progress; returns its row.</summary>
    public Row Report(HostProgress progress)
    {
        var now = Now;
        lock (_gate)
        {
            var row = _rows.TryGetValue(progress.Host, out var was)
                ? new Row(progress, was.Ended is null ? was.Started : now,
                    was.Last.Step == progress.Step && was.Last.Phase == progress.Phase ? was.StepStarted : now, progress.Ended ? now : null)
                : new Row(progress, now, now, progress.Ended ? now : null);
            _rows = _rows.SetItem(progress.Host, row);
            return row;
        }
    }

    /// <summary>How long the host has been at it (until it ended).</summary>
    public TimeSpan Elapsed(Row row) => (row.Ended ?? Now) - row.Started;

    /// <summary>How long its current step has been running.</summary>
    public TimeSpan StepElapsed(Row row) => (row.Ended ?? Now) - row.StepStarted;

    public static string Format(TimeSpan span) =>
        span.TotalMinutes >= 1 ? $"{(int)span.TotalMinutes}m{span.Seconds:00}s" : $"{span.TotalSeconds:0.0}s";

    public static string Name(RunPhase phase) => phase.ToString().ToLowerInvariant();
}
