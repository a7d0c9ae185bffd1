using System.Collections.Immutable;
using Deploy.Core.Engine;
using Deploy.Core.Model;
using Deploy.Core.State;
using Deploy.Site.Compile;

namespace Deploy.Cli;

/// <summary>
/// What an offline <c>render</c> took each host to be: the facts the last run read, those the inventory declares (or a
/// lab host's, which this program makes), or, for a machine never read and not declared, an assumed plain Debian host
/// (said as a warning on stderr, with what was assumed and how to do better).
/// </summary>
public static class RenderFacts
{
    public static void Tell(SiteProgram site, StackState state, IReadOnlyDictionary<string, HostFacts> facts, TextWriter stderr)
    {
        var bySource = site.Hosts.GroupBy(h => h.SourceOf(state.Hosts.GetValueOrDefault(h.Name)?.Facts))
            .ToDictionary(g => g.Key, g => g.ToImmutableArray());
        if (bySource.TryGetValue(FactsSource.Read, out var read))
            stderr.WriteLine($"facts of {Names(read)}: as the last run read them");
        if (bySource.TryGetValue(FactsSource.Known, out var known))
        {
            if (known.Where(h => h.Lab is null).ToList() is { Count: > 0 } declared)
                stderr.WriteLine($"facts of {Names(declared)}: declared in {site.Inventory.File} (facts:)");
            if (known.Where(h => h.Lab is not null).ToList() is { Count: > 0 } lab)
                stderr.WriteLine($"facts of {Names(lab)}: lab hosts, as the lab makes them");
        }
        if (!bySource.TryGetValue(FactsSource.Assumed, out var assumed)) return;
        foreach (var host in assumed)
        {
            var f = facts[host.Name];
            var interfaces = string.Join(", ", f.Interfaces.Select(i => $"{i.Name} {string.Join(" ", i.IPv4)}"));
            stderr.WriteLine($"warning: facts ASSUMED for {host.Name}: never read and none declared, so taken as Debian {f.Codename}, " +
                $"init {f.InitSystem}, interfaces {interfaces} (default route {f.DefaultInterface})");
        }
        stderr.WriteLine($"    declare them under facts: of each host in {site.Inventory.File}, " +
            $"or run ./deploy preview --stack {site.Stack} once to read them");
    }

    private static string Names(IEnumerable<HostTarget> hosts) => string.Join(", ", hosts.Select(h => h.Name));
}
