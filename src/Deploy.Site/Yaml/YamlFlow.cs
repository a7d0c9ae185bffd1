using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Deploy.Site.Yaml;

/// <summary>Plain data (as <see cref="YamlFile.ToData(YamlNode)"/> makes it) written back as one line of flow YAML, and
/// compared: what an edit writes is read back and must be the data it meant.</summary>
public static partial class YamlFlow
{
    [GeneratedRegex("^[A-Za-z0-9_/][A-Za-z0-9_./@+-]*$")]
    private static partial Regex PlainShape();

    public static string Render(object? data) => data switch
    {
        null => "null",
        bool b => b ? "true" : "false",
        long or int => Convert.ToString(data, CultureInfo.InvariantCulture)!,
        double d => d.ToString("R", CultureInfo.InvariantCulture) is var t && (t.Contains('.') || t.Contains('E')) ? t : t + ".0",
        string s => Scalar(s),
        IEnumerable<KeyValuePair<string, object?>> map => "{" + string.Join(", ", map.Select(kv => $"{Scalar(kv.Key)}: {Render(kv.Value)}")) + "}",
        System.Collections.IEnumerable list => "[" + string.Join(", ", list.Cast<object?>().Select(Render)) + "]",
        _ => Scalar(Convert.ToString(data, CultureInfo.InvariantCulture) ?? ""),
    };

    /// <summary>A string as YAML reads it back as that string: plain when it has a plain shape and is not read as a
    /// number, boolean or null; double-quoted otherwise (every control character escaped: never a line of the file).</summary>
    public static string Scalar(string s) =>
        PlainShape().IsMatch(s) && YamlFile.ToData(new YamlScalarNode(s)) is string back && back == s ? s : Quoted(s);

    public static string Quoted(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (var c in s)
            sb.Append(c switch
            {
                '\\' => "\\\\",
                '"' => "\\\"",
                '\n' => "\\n",
                '\t' => "\\t",
                '\r' => "\\r",
                _ when char.IsControl(c) || c is '\u2028' or '\u2029' or '\u0085' => $"\\u{(int)c:x4}",
                _ => c.ToString(),
            });
        return sb.Append('"').ToString();
    }

    /// <summary>Deep equality of plain data (mappings compared by keys, whatever their order).</summary>
    public static bool DataEquals(object? a, object? b) => (a, b) switch
    {
        (null, null) => true,
        (IDictionary<string, object?> x, IDictionary<string, object?> y) =>
            x.Count == y.Count && x.All(kv => y.TryGetValue(kv.Key, out var v) && DataEquals(kv.Value, v)),
        (IList<object?> x, IList<object?> y) => x.Count == y.Count && x.Zip(y).All(p => DataEquals(p.First, p.Second)),
        (IConvertible x, IConvertible y) when x.GetType() == y.GetType() => Equals(x, y),
        _ => false,
    };
}
