using System.Text.RegularExpressions;

namespace Deploy.Resources.Health.Calls;

/// <summary>Reads SIPp's error and message traces: which message of the scenario failed, on what (a SIP response, a
/// timeout), and an excerpt for the report.</summary>
public static partial class SippLog
{
    public static string Explain(int exitCode, string errors, string output, string? scenario = null)
    {
        var unexpected = Unexpected().Match(errors);
        if (unexpected.Success)
        {
            var index = int.Parse(unexpected.Groups["index"].Value, System.Globalization.CultureInfo.InvariantCulture);
            var want = Expected(scenario, index) ?? unexpected.Groups["want"].Value;
            return $"expected {want} at scenario message {index}, got '{unexpected.Groups["got"].Value.Trim().TrimEnd('\'')}'";
        }
        var timeout = Timeout().Match(errors);
        if (timeout.Success)
            return $"timeout: no answer at scenario message {timeout.Groups["index"].Value} ({timeout.Groups["what"].Value.Trim()})";
        if (errors.Contains("Aborting call on UDP", StringComparison.Ordinal) || errors.Contains("ICMP", StringComparison.Ordinal))
            return "the node is unreachable (ICMP error)";
        var lastError = errors.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.Length > 0 && !l.StartsWith("The following events", StringComparison.Ordinal));
        return exitCode switch
        {
            1 when lastError is not null => "failed: " + Strip(lastError),
            1 => "the call failed",
            99 => "no call was made",
            _ => $"SIPp ended with exit code {exitCode}: " +
                (lastError ?? output.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.Length > 0 && !l.StartsWith('-')) ?? "no output"),
        };
    }

    /// <summary>What the scenario accepts at a message: the optional receives from there and the first required one
    /// (SIPp names only the first, "100", when a 100 Trying is optional and a 200 is what counts).</summary>
    private static string? Expected(string? scenario, int index)
    {
        if (scenario is null) return null;
        try
        {
            var messages = System.Xml.Linq.XDocument.Parse(scenario).Root!.Elements().Where(e => e.Name.LocalName is "send" or "recv" or "pause" or "nop" or "label").ToList();
            var want = new List<string>();
            for (var i = index; i < messages.Count && messages[i].Name.LocalName == "recv"; i++)
            {
                var m = messages[i];
                want.Add((string?)m.Attribute("response") ?? (string?)m.Attribute("request") ?? "?");
                if ((string?)m.Attribute("optional") != "true") break;
            }
            return want.Count == 0 ? null : string.Join(" or ", want);
        }
        catch (System.Xml.XmlException) { return null; }
    }

    /// <summary>The status line of the last SIP response in a message trace.</summary>
    public static string? LastResponse(string messages)
    {
        var m = StatusLine().Matches(messages);
        return m.Count == 0 ? null : m[^1].Value.Trim();
    }

    /// <summary>What the report shows of a failed run: the error trace, then the end of the message trace.</summary>
    public static string Excerpt(string errors, string messages, string output)
    {
        static string Tail(string s, int lines) => string.Join('\n', s.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).TakeLast(lines));
        var parts = new List<string>();
        if (errors.Trim().Length > 0) parts.Add("SIPp errors:\n" + Tail(errors, 12));
        if (messages.Trim().Length > 0) parts.Add("SIPp messages (last lines):\n" + Tail(messages, 40));
        if (parts.Count == 0 && output.Trim().Length > 0) parts.Add("SIPp output:\n" + Tail(output, 12));
        return string.Join('\n', parts);
    }

    private static string Strip(string line) => TimestampPrefix().Replace(line, "");

    [GeneratedRegex(@"while expecting '(?<want>[^']+)' \(index (?<index>\d+)\), received '(?<got>[^\r\n]*)")]
    private static partial Regex Unexpected();

    [GeneratedRegex(@"receive timeout on message (?<what>[^:\r\n]*):(?<index>\d+)")]
    private static partial Regex Timeout();

    [GeneratedRegex(@"^SIP/2\.0 \d{3}[^\r\n]*", RegexOptions.Multiline)]
    private static partial Regex StatusLine();

    [GeneratedRegex(@"^\S+\s+\S+\s+[\d.]+:\s*")]
    private static partial Regex TimestampPrefix();
}
