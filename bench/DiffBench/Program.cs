using System.Diagnostics;
using Deploy.Core.Engine;

// Time and memory of UnifiedDiff.Create on a generated kamailio.cfg-like file of N lines, for four kinds of change (the last is Myers' worst case: every line kept, D near 2N).
// Memory is what the diff allocated (GC.GetTotalAllocatedBytes) and the process's peak working set so far.
var sizes = args.Length > 0 ? args.Select(int.Parse).ToArray() : [10_000, 30_000];
UnifiedDiff.Create(Config(100, 0), Config(100, 1), "a", "b"); // JIT warm-up

Console.WriteLine($"{"lines",7} {"change",-24} {"time",9} {"allocated",11} {"peak RSS",9} {"diff lines",10}");
foreach (var n in sizes)
{
    var before = Config(n, 0);
    Measure(n, "one line", before, before.Replace("route[R42]", "route[R42b]"));
    Measure(n, "every 100th line", before, Config(n, 100));
    Measure(n, "every line", before, Config(n, 1));
    Measure(n, "routes in reverse order", before, string.Concat(before.Split("route[").Reverse().Select(r => "route[" + r))[6..]);
}

static void Measure(int n, string change, string before, string after)
{
    GC.Collect();
    var allocated = GC.GetTotalAllocatedBytes(precise: true);
    var clock = Stopwatch.StartNew();
    var diff = UnifiedDiff.Create(before, after, "live", "desired");
    clock.Stop();
    var bytes = GC.GetTotalAllocatedBytes(precise: true) - allocated;
    using var self = Process.GetCurrentProcess();
    Console.WriteLine($"{n,7} {change,-24} {clock.Elapsed.TotalMilliseconds,7:0} ms {bytes / 1048576.0,7:0.0} MiB " +
        $"{self.PeakWorkingSet64 / 1048576,5} MiB {diff.Count(c => c == '\n'),10}");
}

// n lines of routing-script-like text; with every > 0, each every-th line differs
static string Config(int n, int every) =>
    string.Concat(Enumerable.Range(0, n).Select(i =>
        (i % 50 == 0 ? $"route[R{i / 50}] {{" : i % 50 == 49 ? "}" : $"    if (is_method(\"INVITE\") && $rU == \"{i}\") {{ xlog(\"L_INFO\", \"call {i}\"); }}")
        + (every > 0 && i % every == 0 ? " # changed" : "") + "\n"));
