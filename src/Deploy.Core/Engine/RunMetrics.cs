using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using Deploy.Core.Transport;

namespace Deploy.Core.Engine;

/// <summary>
/// Where a run's time goes: the wall time of each phase (site load and its parts, connect, read, render, plan, lab,
/// apply, health, the state file's writes), the SSH connections and round trips, and the controller's CPU. Phases that run per host in parallel
/// keep both their wall time (the time during which at least one host was in it) and the sum over hosts. Safe from
/// many threads.
/// </summary>
public sealed class RunMetrics
{
    /// <summary>The phases in the order a run goes through them (the report lists those that ran, in this order).</summary>
    public static readonly ImmutableArray<string> Order =
    [
        "site", "site.files", "site.templates", "site.secrets", "site.keys",
        "connect", "read", "render", "plan", "lab", "apply", "health", "state",
    ];

    private readonly long _origin = Stopwatch.GetTimestamp();
    private readonly ConcurrentDictionary<string, ConcurrentBag<(long Start, long End)>> _phases = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _trips = new(StringComparer.Ordinal);
    private int _connections;

    /// <summary>The CPU the process had used when this run began (the runtime's start-up), taken at construction.</summary>
    public TimeSpan StartupCpu { get; } = Process.GetCurrentProcess().TotalProcessorTime;

    /// <summary>Times one phase (of one host, for per-host phases) until disposed; a null phase is not timed.</summary>
    public Span Time(string? phase) => new(this, phase, Stopwatch.GetTimestamp());

    /// <summary>Adds a phase measured elsewhere (on another thread: the passphrase's key derivation).</summary>
    public void Add(string phase, long start, long end) =>
        _phases.GetOrAdd(phase, _ => new ConcurrentBag<(long, long)>()).Add((start, end));

    /// <summary>A transport that counts this run's connections and round trips.</summary>
    public IHostConnector Counting(IHostConnector inner) => new CountingConnector(inner, this);

    /// <summary>What the run cost so far, over <paramref name="hosts"/> hosts.</summary>
    public RunReport Report(int hosts)
    {
        using var self = Process.GetCurrentProcess();
        var phases = Order.Where(_phases.ContainsKey).Select(name =>
        {
            var spans = _phases[name].OrderBy(x => x.Start).ToList();
            var sum = spans.Sum(x => x.End - x.Start);
            return new PhaseTime(name, Stopwatch.GetElapsedTime(0, Covered(spans)), Stopwatch.GetElapsedTime(0, sum), spans.Count);
        });
        return new RunReport([.. phases], hosts, _connections, _trips.Values.Sum(), _trips.IsEmpty ? 0 : _trips.Values.Max(),
            self.TotalProcessorTime, StartupCpu, self.PeakWorkingSet64, Stopwatch.GetElapsedTime(_origin));
    }

    /// <summary>The time covered by at least one of the spans (sorted by start): a phase's wall time, gaps left out.</summary>
    private static long Covered(List<(long Start, long End)> spans)
    {
        long total = 0, from = long.MinValue, to = long.MinValue;
        foreach (var (start, end) in spans)
        {
            if (start > to) { total += to - from; (from, to) = (start, end); }
            else to = Math.Max(to, end);
        }
        return total + to - from;
    }

    /// <summary>An open phase; disposing it records its time.</summary>
    public readonly struct Span(RunMetrics metrics, string? phase, long start) : IDisposable
    {
        public void Dispose()
        {
            if (phase is not null) metrics.Add(phase, start, Stopwatch.GetTimestamp());
        }
    }

    private sealed class CountingConnector(IHostConnector inner, RunMetrics metrics) : IHostConnector
    {
        public async Task<IHostTransport> ConnectAsync(HostConnection connection, CancellationToken ct)
        {
            var transport = await inner.ConnectAsync(connection, ct);
            Interlocked.Increment(ref metrics._connections);
            return new CountingTransport(transport, metrics);
        }
    }

    private sealed class CountingTransport(IHostTransport inner, RunMetrics metrics) : IHostTransport
    {
        public string HostName => inner.HostName;

        public Task<ExecResult> RunAsync(string script, CancellationToken ct)
        {
            metrics._trips.AddOrUpdate(inner.HostName, 1, (_, n) => n + 1);
            return inner.RunAsync(script, ct);
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}

/// <summary>One phase of a run: its wall time, the sum of its per-host times and how many times it ran.</summary>
public sealed record PhaseTime(string Name, TimeSpan Wall, TimeSpan Sum, int Count);

/// <summary>What a run cost: phases, SSH connections and round trips (total and the most on one host), the controller's
/// CPU (all of it, and the part spent before the run began), its peak memory and wall time.</summary>
public sealed record RunReport(ImmutableArray<PhaseTime> Phases, int Hosts, int Connections, int RoundTrips, int MostRoundTrips,
    TimeSpan Cpu, TimeSpan StartupCpu, long PeakRssBytes, TimeSpan Wall)
{
    /// <summary>The controller's CPU per host, start-up excluded.</summary>
    public TimeSpan CpuPerHost => Hosts == 0 ? TimeSpan.Zero : (Cpu - StartupCpu) / Hosts;

    /// <summary>The report as -v prints it: one line per phase, then the counters.</summary>
    public IEnumerable<string> Lines()
    {
        foreach (var p in Phases)
            yield return $"phase {p.Name,-15} {Ms(p.Wall),6} ms" + (p.Count > 1 ? $"  ({p.Count} times, {Ms(p.Sum)} ms in all)" : "");
        yield return $"ssh: {Connections} connections, {RoundTrips} round trips (at most {MostRoundTrips} on one host) for {Hosts} hosts";
        yield return $"controller: {Ms(Cpu)} ms CPU ({Ms(StartupCpu)} ms before the run, " +
            $"{CpuPerHost.TotalMilliseconds:0.0} ms per host after), " +
            $"peak RSS {PeakRssBytes / (1024 * 1024)} MB, {Ms(Wall)} ms wall";
    }

    private static long Ms(TimeSpan t) => (long)t.TotalMilliseconds;
}
