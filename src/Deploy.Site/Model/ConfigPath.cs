using System.Globalization;
using System.Text;
using Deploy.Core.Model;

namespace Deploy.Site.Model;

/// <summary>
/// Pulumi's <c>config --path</c> keys: a setting, then <c>.name</c> or <c>["name"]</c> for a mapping's key and
/// <c>[n]</c> for a list's item: <c>uacRegistrations[0].expires</c>. Reads and edits plain data (copies, never in place).
/// </summary>
public sealed record ConfigPath(string Setting, IReadOnlyList<object> Steps)
{
    public string Text { get; init; } = Setting;

    public static ConfigPath Parse(string text)
    {
        var steps = new List<object>();
        var i = 0;
        string Name()
        {
            var start = i;
            while (i < text.Length && text[i] is not ('.' or '[')) i++;
            if (i == start) throw Bad(text, "a name is missing");
            return text[start..i];
        }
        var setting = Name();
        while (i < text.Length)
        {
            if (text[i] == '.') { i++; steps.Add(Name()); continue; }
            var close = text.IndexOf(']', i);
            if (close < 0) throw Bad(text, "a '[' is not closed");
            var inner = text[(i + 1)..close];
            if (inner.Length >= 2 && inner[0] == '"' && inner[^1] == '"') steps.Add(inner[1..^1]);
            else if (int.TryParse(inner, NumberStyles.None, CultureInfo.InvariantCulture, out var n)) steps.Add(n);
            else throw Bad(text, $"'[{inner}]' is neither a list index nor a quoted key");
            i = close + 1;
            if (i < text.Length && text[i] is not ('.' or '[')) throw Bad(text, $"'{text[i]}' after ']'");
        }
        return new ConfigPath(setting, steps) { Text = text };
    }

    private static DeployException Bad(string text, string why) =>
        new($"config path '{text}': {why} (a path reads like uacRegistrations[0].expires or dnsServers[1])");

    /// <summary>The value at the path, or an error naming the first step that is not there.</summary>
    public object? Get(object? data)
    {
        var at = new StringBuilder(Setting);
        foreach (var step in Steps)
        {
            data = (step, data) switch
            {
                (string k, Dictionary<string, object?> d) when d.TryGetValue(k, out var v) => v,
                (int n, List<object?> l) when n < l.Count => l[n],
                _ => throw new DeployException($"config path '{Text}': {at} has no {Describe(step)}"),
            };
            at.Append(step is int n2 ? $"[{n2}]" : $".{step}");
        }
        return data;
    }

    /// <summary>A copy of the data with the path's value set: missing mappings are made, and a list grows by one
    /// when the index is its length.</summary>
    public object? Set(object? data, object? value) => Set(data, 0, value, remove: false);

    /// <summary>A copy of the data without the path's key or item (unchanged when it is not there).</summary>
    public object? Remove(object? data) => Set(data, 0, null, remove: true);

    private object? Set(object? data, int depth, object? value, bool remove)
    {
        if (depth == Steps.Count) return value;
        var step = Steps[depth];
        var last = depth == Steps.Count - 1;
        switch (step)
        {
            case string key:
                if (data is not (null or Dictionary<string, object?>)) throw new DeployException($"config path '{Text}': '{key}' is a key, but the value there is not a mapping");
                var d = data is Dictionary<string, object?> old ? new Dictionary<string, object?>(old, StringComparer.Ordinal) : new(StringComparer.Ordinal);
                if (remove && last) d.Remove(key);
                else if (!remove || d.ContainsKey(key)) d[key] = Set(d.GetValueOrDefault(key), depth + 1, value, remove);
                return d;
            default:
                var n = (int)step;
                if (data is not (null or List<object?>)) throw new DeployException($"config path '{Text}': [{n}] is an index, but the value there is not a list");
                var l = data is List<object?> list ? [.. list] : new List<object?>();
                if (remove) { if (n < l.Count) { if (last) l.RemoveAt(n); else l[n] = Set(l[n], depth + 1, value, remove); } return l; }
                if (n > l.Count) throw new DeployException($"config path '{Text}': index {n} is past the end of the list ({l.Count} items; [{l.Count}] adds one)");
                if (n == l.Count) l.Add(Set(null, depth + 1, value, remove));
                else l[n] = Set(l[n], depth + 1, value, remove);
                return l;
        }
    }

    private static string Describe(object step) => step is int n ? $"item [{n}]" : $"key '{step}'";
}
