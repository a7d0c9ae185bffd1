using Deploy.Core.Resources;

namespace Deploy.Core.Probes;

/// <summary>
/// How scripts sent to a host frame what they print back, in one place: a marker line starts each section (the facts, a
/// resource's probe, a batch, the state after a change, a file's live content), so that one section's output can never
/// leak into another's. Probes print <c>key=value</c> lines.
/// </summary>
public static class ProbeProtocol
{
    public const string Marker = "##nfd:";

    /// <summary>The section of one resource (by key or URN), printed as a quoted word: no site value becomes code.</summary>
    public const string ResourcePrefix = "r ";

    private const string AfterName = "after";

    /// <summary>The line that starts a section with a fixed name (facts, end, a batch number).</summary>
    public static string Section(string name) => $"echo '{Marker}{name}'\n";

    /// <summary>The line that starts a resource's section; the name may hold any text but a newline.</summary>
    public static string ResourceSection(string name) =>
        $"echo {Sh.Quote(Marker + ResourcePrefix + name.Replace("\n", " ", StringComparison.Ordinal))}\n";

    /// <summary>The part of preview's second round trip that fetches a changed resource's live content (for its diff):
    /// its URN as a quoted marker line, then the content as one base64 line. A URN with a control character is refused
    /// (a newline would break the framing).</summary>
    public static string ContentFetch(string urn, ContentView view)
    {
        Shapes.Ensure(urn, Shapes.NoControl(urn, "resource URN"));
        return ResourceSection(urn) + view.FetchBase64;
    }

    /// <summary>Parses the output of resource sections: each name with the one line that follows it.</summary>
    public static IEnumerable<(string Name, string Line)> ResourceLines(string output)
    {
        string? name = null;
        foreach (var line in output.Split('\n'))
        {
            if (line.StartsWith(Marker + ResourcePrefix, StringComparison.Ordinal)) { name = line[(Marker.Length + ResourcePrefix.Length)..]; continue; }
            if (name is null) continue;
            yield return (name, line);
            name = null;
        }
    }

    /// <summary>A change script followed by its probe: what the resource is after the change.</summary>
    public static string ThenProbe(string probe) => $"set +e\n{Section(AfterName)}( {probe.TrimEnd()}\n)\n";

    /// <summary>The key=value output of the probe that <see cref="ThenProbe"/> appended.</summary>
    public static Dictionary<string, string> AfterProbe(string stdout) => KeyValues(AfterLines(stdout));

    /// <summary>The lines the probe that <see cref="ThenProbe"/> appended printed.</summary>
    public static string[] AfterLines(string stdout)
    {
        var marker = Marker + AfterName + "\n";
        var idx = stdout.IndexOf(marker, StringComparison.Ordinal);
        return (idx < 0 ? "" : stdout[(idx + marker.Length)..]).Split('\n');
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
}
