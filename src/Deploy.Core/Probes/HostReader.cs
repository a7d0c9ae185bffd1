using System.Collections.Immutable;
using System.Text;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Core.Transport;

namespace Deploy.Core.Probes;

/// <summary>What one read round trip returned: the host's facts and the live state of each probed resource.</summary>
public sealed record HostRead(HostFacts Facts, ImmutableDictionary<string, IReadOnlyDictionary<string, string>> Probes);

/// <summary>
/// Builds the single script that reads a host (facts + every resource's probe) and parses its output.
/// Sections are framed by marker lines so that one probe's output can never leak into another's.
/// </summary>
public static class HostReader
{
    private const string Marker = ProbeProtocol.Marker;

    /// <summary>Facts with as few processes as possible (each fork costs ~10 ms in a busy container): builtins where they do.</summary>
    public const string FactsScript = """
        read -r h < /proc/sys/kernel/hostname; echo "hostname=$h"
        if [ -r /etc/os-release ]; then . /etc/os-release; fi
        echo "codename=${VERSION_CODENAME:-}"
        if [ -d /run/systemd/system ]; then echo init=systemd; else echo init=sysv; fi
        ip -o addr show 2>/dev/null | while read -r _idx ifname fam addr _rest; do echo "addr=${ifname%%@*} $fam ${addr%%/*}"; done
        ip -o link show 2>/dev/null | while read -r _idx ifname rest; do case "$rest" in *link/none*) n=${ifname%:}; echo "tunnel=${n%%@*}" ;; esac; done
        while read -r iface dest _gw _rest; do [ "$dest" = 00000000 ] && echo "route4=default dev $iface"; done < /proc/net/route
        dpkg-query -W -f='pkg=${db:Status-Abbrev}|${Package}|${Version}|${Architecture}\n' 2>/dev/null
        """;

    /// <summary>The read script: facts, then one framed section per probe key.</summary>
    public static string BuildScript(IEnumerable<(string Key, string Probe)> probes) =>
        new ReadScript(probes.Select(p => (p.Key, p.Probe)).ToArray(), []).Text;

    /// <summary>The read script for a host's resources: batched by type where the provider can, framed per resource otherwise.</summary>
    public static ReadScript Build(IEnumerable<ResourceSpec> specs, Func<string, IResourceProvider> providers)
    {
        var single = new List<(string Key, string Probe)>();
        var batches = new List<ReadBatch>();
        foreach (var group in specs.GroupBy(s => s.Type))
        {
            var provider = providers(group.Key);
            var items = group.ToArray();
            var many = items.Length > 1 ? provider.ProbeMany([.. items.Select(i => i.Identity)]) : null;
            if (many is not null) batches.Add(new ReadBatch(provider, [.. items.Select(i => i.Key)], [.. items.Select(i => i.Identity)], many));
            else single.AddRange(items.Select(i => (i.Key, provider.Probe(i.Identity))));
        }
        return new ReadScript(single, batches);
    }

    /// <summary>Resources of one type read together.</summary>
    public sealed record ReadBatch(IResourceProvider Provider, ImmutableArray<string> Keys,
        ImmutableArray<ImmutableSortedDictionary<string, string>> Identities, string Script);

    public sealed class ReadScript(IReadOnlyList<(string Key, string Probe)> single, IReadOnlyList<ReadBatch> batches)
    {
        public string Text { get; } = Compose(single, batches);

        private static string Compose(IReadOnlyList<(string Key, string Probe)> single, IReadOnlyList<ReadBatch> batches)
        {
            var sb = new StringBuilder("exec 2>/dev/null\n");
            sb.Append(ProbeProtocol.Section("facts")).Append(FactsScript).Append('\n');
            for (var i = 0; i < batches.Count; i++)
                sb.Append(ProbeProtocol.Section("b " + i)).Append("{ ").Append(batches[i].Script.TrimEnd()).Append("\n}\n");
            foreach (var (key, probe) in single)
            {
                sb.Append(ProbeProtocol.ResourceSection(key));
                // probes run in the script's own shell (no subshell fork) and only set variables and print
                sb.Append("{ ").Append(probe.Length == 0 ? ":" : probe.TrimEnd()).Append("\n}\n");
            }
            sb.Append(ProbeProtocol.Section("end"));
            return sb.ToString();
        }

        public HostRead Parse(string host, string output)
        {
            var read = HostReader.Parse(host, output, out var raw);
            var probes = read.Probes.ToBuilder();
            for (var i = 0; i < batches.Count; i++)
            {
                var b = batches[i];
                IReadOnlyList<IReadOnlyDictionary<string, string>> parsed;
                // a host that prints something a probe does not expect fails alone, with what it printed
                try { parsed = b.Provider.ParseMany(b.Identities, raw.GetValueOrDefault("b " + i) ?? []); }
                catch (Exception e) when (e is FormatException or IndexOutOfRangeException or ArgumentException or OverflowException)
                {
                    throw new DeployException($"host {host}: the {b.Provider.Type} probe printed output it cannot read ({e.Message}): " +
                        Shapes.Show(string.Join(" | ", raw.GetValueOrDefault("b " + i) ?? [])));
                }
                if (parsed.Count != b.Keys.Length)
                    throw new DeployException($"host {host}: the {b.Provider.Type} probe read {parsed.Count} resources, not {b.Keys.Length}");
                for (var k = 0; k < b.Keys.Length; k++) probes[b.Keys[k]] = parsed[k];
            }
            return read with { Probes = probes.ToImmutable() };
        }
    }

    public static HostRead Parse(string host, string output) => Parse(host, output, out _);

    private static HostRead Parse(string host, string output, out Dictionary<string, List<string>> raw)
    {
        var sections = new Dictionary<string, List<string>>();
        List<string>? current = null;
        var ended = false;
        foreach (var rawLine in output.Split('\n'))
        {
            var line = rawLine.TrimEnd('\r');
            if (line.StartsWith(Marker, StringComparison.Ordinal))
            {
                var name = line[Marker.Length..];
                if (name == "end") { ended = true; break; }
                current = sections[name] = [];
                continue;
            }
            current?.Add(line);
        }
        if (!ended || !sections.TryGetValue("facts", out var factLines))
            throw new DeployException($"host {host}: the read script did not complete (output was cut short)");
        raw = sections;
        var prefix = ProbeProtocol.ResourcePrefix;
        var probes = sections.Where(s => s.Key.StartsWith(prefix, StringComparison.Ordinal))
            .ToImmutableDictionary(s => s.Key[prefix.Length..], s => (IReadOnlyDictionary<string, string>)ProbeProtocol.KeyValues(s.Value));
        return new HostRead(ParseFacts(factLines), probes);
    }

    public static HostFacts ParseFacts(IEnumerable<string> lines)
    {
        string hostname = "", codename = "", arch = "", init = "sysv", route = "";
        var v4 = new Dictionary<string, List<string>>();
        var v6 = new Dictionary<string, List<string>>();
        var order = new List<string>();
        var tunnels = new HashSet<string>(StringComparer.Ordinal);
        var packages = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        foreach (var line in lines)
        {
            var eq = line.IndexOf('=');
            if (eq <= 0) continue;
            var key = line[..eq];
            var value = line[(eq + 1)..];
            switch (key)
            {
                case "hostname": hostname = value.Trim(); break;
                case "codename": codename = value.Trim(); break;
                case "arch": arch = value.Trim(); break; // older hosts' state files
                case "init": init = value.Trim(); break;
                case "route4": route = value.Trim(); break;
                case "tunnel": tunnels.Add(value.Trim()); break;
                case "addr":
                    var parts = value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    if (parts.Length < 3) break;
                    if (!order.Contains(parts[0])) { order.Add(parts[0]); v4[parts[0]] = []; v6[parts[0]] = []; }
                    (parts[1] == "inet6" ? v6 : v4)[parts[0]].Add(parts[2]);
                    break;
                case "pkg":
                    // "ii |name|version": only installed packages count
                    var p = value.Split('|');
                    if (p.Length >= 3 && p[0].StartsWith("ii", StringComparison.Ordinal)) packages[p[1].Split(':')[0]] = p[2];
                    if (p.Length >= 4 && p[1] == "dpkg") arch = p[3];
                    break;
            }
        }
        var interfaces = order.Select(n => new NetInterface(n, [.. v4[n]], [.. v6[n]], tunnels.Contains(n))).ToImmutableArray();
        // "default via 10.0.0.1 dev eth0 ..." → the first IPv4 of eth0
        string? defIf = null;
        var words = route.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var dev = Array.IndexOf(words, "dev");
        if (dev >= 0 && dev + 1 < words.Length) defIf = words[dev + 1];
        var src = Array.IndexOf(words, "src");
        var defIp = src >= 0 && src + 1 < words.Length
            ? words[src + 1]
            : interfaces.FirstOrDefault(i => i.Name == defIf)?.IPv4.FirstOrDefault();
        // hosts without a default route (an internal lab network): the first non-loopback IPv4
        if (defIf is null)
        {
            var first = interfaces.FirstOrDefault(i => i.Name != "lo" && i.IPv4.Length > 0);
            defIf = first?.Name;
            defIp = first?.IPv4[0];
        }
        return new HostFacts(hostname, codename, init, arch, defIf, defIp, interfaces, packages.ToImmutable());
    }
}
