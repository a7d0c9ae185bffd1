using System.Collections.Immutable;
using System.Text;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Core.Transport;

namespace Deploy.Core.Engine;

/// <summary>What one read round trip returned: the host's facts and the live state of each probed resource.</summary>
public sealed record HostRead(HostFacts Facts, ImmutableDictionary<string, IReadOnlyDictionary<string, string>> Probes);

/// <summary>
/// Builds the single script that reads a host (facts + every resource's probe) and parses its output.
/// Sections are framed by marker lines so that one probe's output can never leak into another's.
/// </summary>
public static class HostReader
{
    private const string Marker = "##nfd:";

    public const string FactsScript = """
        read -r h < /proc/sys/kernel/hostname; echo "hostname=$h"
        if [ -r /etc/os-release ]; then . /etc/os-release; fi
        echo "codename=${VERSION_CODENAME:-}"
        echo "arch=$(dpkg --print-architecture 2>/dev/null || uname -m)"
        if [ -d /run/systemd/system ]; then echo init=systemd; else echo init=sysv; fi
        ip -o addr show 2>/dev/null | while read -r _idx ifname fam addr _rest; do echo "addr=${ifname%%@*} $fam ${addr%%/*}"; done
        r=$(ip -4 route show default 2>/dev/null); echo "route4=${r%%
        *}"
        dpkg-query -W -f='pkg=${db:Status-Abbrev}|${Package}|${Version}\n' 2>/dev/null
        """;

    /// <summary>The read script: facts, then one framed section per probe key.</summary>
    public static string BuildScript(IEnumerable<(string Key, string Probe)> probes)
    {
        var sb = new StringBuilder("exec 2>/dev/null\n");
        sb.Append("echo '").Append(Marker).Append("facts'\n").Append(FactsScript).Append('\n');
        foreach (var (key, probe) in probes)
        {
            sb.Append("echo '").Append(Marker).Append("r ").Append(key.Replace("'", "")).Append("'\n");
            sb.Append("( ").Append(probe.TrimEnd()).Append("\n)\n");
        }
        sb.Append("echo '").Append(Marker).Append("end'\n");
        return sb.ToString();
    }

    public static HostRead Parse(string host, string output)
    {
        var sections = new Dictionary<string, List<string>>();
        List<string>? current = null;
        var ended = false;
        foreach (var raw in output.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.StartsWith(Marker, StringComparison.Ordinal))
            {
                var name = line[Marker.Length..];
                if (name == "end") { ended = true; break; }
                current = sections[name.StartsWith("r ", StringComparison.Ordinal) ? name[2..] : name] = [];
                continue;
            }
            current?.Add(line);
        }
        if (!ended || !sections.TryGetValue("facts", out var factLines))
            throw new DeployException($"host {host}: the read script did not complete (output was cut short)");
        var probes = sections.Where(s => s.Key != "facts")
            .ToImmutableDictionary(s => s.Key, s => (IReadOnlyDictionary<string, string>)KeyValues(s.Value));
        return new HostRead(ParseFacts(factLines), probes);
    }

    /// <summary>key=value lines; a repeated key keeps its first value.</summary>
    public static Dictionary<string, string> KeyValues(IEnumerable<string> lines)
    {
        var kv = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in lines)
        {
            var eq = line.IndexOf('=');
            if (eq <= 0) continue;
            kv.TryAdd(line[..eq], line[(eq + 1)..]);
        }
        return kv;
    }

    public static HostFacts ParseFacts(IEnumerable<string> lines)
    {
        string hostname = "", codename = "", arch = "", init = "sysv", route = "";
        var v4 = new Dictionary<string, List<string>>();
        var v6 = new Dictionary<string, List<string>>();
        var order = new List<string>();
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
                case "arch": arch = value.Trim(); break;
                case "init": init = value.Trim(); break;
                case "route4": route = value.Trim(); break;
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
                    break;
            }
        }
        var interfaces = order.Select(n => new NetInterface(n, [.. v4[n]], [.. v6[n]])).ToImmutableArray();
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
