using System.Globalization;
using Deploy.Core.Model;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Deploy.Site.Yaml;

/// <summary>A YAML site file read with positions, so every error can name its file and line.</summary>
public sealed class YamlFile
{
    public string Path { get; }
    public string DisplayPath { get; }
    public YamlMappingNode Root { get; }

    private YamlFile(string path, string display, YamlMappingNode root) { Path = path; DisplayPath = display; Root = root; }

    public static YamlFile Load(string path, string projectDir)
    {
        var display = System.IO.Path.GetRelativePath(projectDir, path);
        if (!File.Exists(path)) throw new SiteException(display, 0, "file not found");
        // a site file that is a link to a file elsewhere (another user's config, the controller's secrets) is not read
        if (Deploy.Core.Paths.ContainedPath.Resolve(projectDir, path) is null)
            throw new SiteException(display, 0, "the file is a link that leads outside the project: refused");
        var text = YamlLimits.ReadFile(path, display);
        var stream = new YamlStream();
        try
        {
            YamlLimits.Check(text, display);
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new SiteException(display, (int)e.Start.Line, "malformed YAML: " + Clean(e));
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's parser gives up this way at an unexpected end of file
            throw new SiteException(display, text.Split('\n').Length - (text.EndsWith('\n') ? 1 : 0), "malformed YAML: unexpected end of file (an unclosed bracket or quote?)");
        }
        if (stream.Documents.Count == 0) return new YamlFile(path, display, new YamlMappingNode());
        return stream.Documents[0].RootNode switch
        {
            YamlMappingNode m => new YamlFile(path, display, m),
            YamlScalarNode { Value: null or "" } => new YamlFile(path, display, new YamlMappingNode()),
            var other => throw new SiteException(display, (int)other.Start.Line, "expected a mapping at the top of the file"),
        };
    }

    private static string Clean(YamlException e)
    {
        var msg = e.InnerException?.Message ?? e.Message;
        var idx = msg.IndexOf("): ", StringComparison.Ordinal);
        return idx > 0 && msg.StartsWith('(') ? msg[(idx + 3)..] : msg;
    }

    public SiteException Error(YamlNode? node, string message) => new(DisplayPath, node is null ? 0 : (int)node.Start.Line, message);

    public static int Line(YamlNode node) => (int)node.Start.Line;

    // ---- typed access

    public YamlNode? Get(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v : null;

    public YamlMappingNode? Map(YamlMappingNode map, string key)
    {
        var n = Get(map, key);
        return n switch
        {
            null => null,
            YamlMappingNode m => m,
            YamlScalarNode { Value: null or "" or "~" } => null,
            _ => throw Error(n, $"'{key}' must be a mapping"),
        };
    }

    public YamlSequenceNode? Seq(YamlMappingNode map, string key)
    {
        var n = Get(map, key);
        return n switch
        {
            null => null,
            YamlSequenceNode s => s,
            YamlScalarNode { Value: null or "" or "~" } => null,
            _ => throw Error(n, $"'{key}' must be a list"),
        };
    }

    public string? Str(YamlMappingNode map, string key)
    {
        var n = Get(map, key);
        return n switch
        {
            null => null,
            YamlScalarNode s => s.Value,
            _ => throw Error(n, $"'{key}' must be a single value"),
        };
    }

    public string Required(YamlMappingNode map, string key, string what) =>
        Str(map, key) is { Length: > 0 } s ? s : throw Error(map, $"{what}: '{key}' is required");

    public string Scalar(YamlNode node, string what) =>
        node is YamlScalarNode { Value: { } v } ? v : throw Error(node, $"{what} must be a single value");

    public IEnumerable<(string Key, YamlNode KeyNode, YamlNode Value)> Entries(YamlMappingNode map)
    {
        foreach (var (k, v) in map.Children)
            yield return (Scalar(k, "a key"), k, v);
    }

    public void AllowOnly(YamlMappingNode map, string what, params string[] keys)
    {
        foreach (var (k, kn, _) in Entries(map))
            if (!keys.Contains(k))
                throw Error(kn, $"unknown key '{k}' in {what} (expected one of: {string.Join(", ", keys)})");
    }

    /// <summary>A YAML value as plain data: dictionaries, lists, strings, longs, doubles, booleans, null.</summary>
    public static object? ToData(YamlNode node) => ToData(node, null);

    /// <summary>As <see cref="ToData(YamlNode)"/>, remembering where each mapping's keys came from (see <see cref="OriginOf"/>),
    /// so that errors about data that travelled through vars can still name the site file and line.</summary>
    public object? Data(YamlNode node) => ToData(node, DisplayPath);

    private static object? ToData(YamlNode node, string? file)
    {
        switch (node)
        {
            case YamlMappingNode m:
                var d = m.Children.ToDictionary(c => ((YamlScalarNode)c.Key).Value ?? "", c => ToData(c.Value, file), StringComparer.Ordinal);
                if (file is not null)
                    Origins.AddOrUpdate(d, new Origin(file, Line(m), m.Children.ToDictionary(c => ((YamlScalarNode)c.Key).Value ?? "", c => Line(c.Key), StringComparer.Ordinal)));
                return d;
            case YamlSequenceNode s: return s.Children.Select(c => ToData(c, file)).ToList();
            case YamlScalarNode sc: return Scalar(sc);
            default: return null;
        }
    }

    private sealed record Origin(string File, int Line, Dictionary<string, int> Keys);

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<object, Origin> Origins = new();

    /// <summary>Where a mapping read with <see cref="Data"/> (or one of its keys) was written: file and line, if known.</summary>
    public static (string File, int Line)? OriginOf(object? mapping, string? key = null) =>
        mapping is not null && Origins.TryGetValue(mapping, out var o)
            ? (o.File, key is not null && o.Keys.TryGetValue(key, out var l) ? l : o.Line)
            : null;

    private static object? Scalar(YamlScalarNode s)
    {
        var v = s.Value;
        if (s.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded) return v ?? "";
        switch (v)
        {
            case null or "~" or "null" or "": return null;
            case "true" or "True" or "yes": return true;
            case "false" or "False" or "no": return false;
        }
        if (long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return l;
        if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && v.Contains('.') && !v.EndsWith('.')
            && v.Count(c => c == '.') == 1) return d;
        return v;
    }
}
