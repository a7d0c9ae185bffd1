using Deploy.Core.Model;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Deploy.Site.Yaml;

/// <summary>
/// Site files are untrusted input: before a YAML file is turned into a model it is scanned as a stream of events
/// (no recursion, nothing expanded) and refused with its file:line when it is too big, nested too deep, or when its
/// aliases would expand into too many nodes (a "billion laughs" file is a few hundred bytes).
/// </summary>
public static class YamlLimits
{
    public const long MaxFileBytes = 4 * 1024 * 1024;
    public const int MaxDepth = 64;
    public const long MaxAliasNodes = 100_000;

    /// <summary>Reads a site file whole, refusing one over <see cref="MaxFileBytes"/>.</summary>
    public static string ReadFile(string path, string display)
    {
        var length = new FileInfo(path).Length;
        if (length > MaxFileBytes)
            throw new SiteException(display, 0, $"file is {length} bytes; site files may be at most {MaxFileBytes / 1024 / 1024} MiB");
        return File.ReadAllText(path);
    }

    /// <summary>Throws a <see cref="SiteException"/> when the text nests deeper than <see cref="MaxDepth"/> or its aliases
    /// expand to more than <see cref="MaxAliasNodes"/> nodes. Parse errors are YamlDotNet's own (the caller reports them).</summary>
    public static void Check(string text, string display)
    {
        var parser = new Parser(new StringReader(text));
        var sizes = new Dictionary<string, long>(StringComparer.Ordinal);
        var open = new Stack<(string? Anchor, long Start)>();
        long nodes = 0, expanded = 0;
        while (parser.MoveNext())
        {
            switch (parser.Current)
            {
                case AnchorAlias alias:
                    var size = sizes.GetValueOrDefault(alias.Value.Value, 1);
                    nodes += size;
                    expanded += size;
                    if (expanded > MaxAliasNodes)
                        throw new SiteException(display, (int)alias.Start.Line,
                            $"aliases expand to more than {MaxAliasNodes} nodes (an alias bomb?): refused");
                    break;
                case Scalar scalar:
                    nodes++;
                    if (!scalar.Anchor.IsEmpty) sizes[scalar.Anchor.Value] = 1;
                    break;
                case MappingStart or SequenceStart:
                    var start = (NodeEvent)parser.Current;
                    nodes++;
                    open.Push((start.Anchor.IsEmpty ? null : start.Anchor.Value, nodes));
                    if (open.Count > MaxDepth)
                        throw new SiteException(display, (int)start.Start.Line, $"nested deeper than {MaxDepth} levels: refused");
                    break;
                case MappingEnd or SequenceEnd:
                    var (anchor, begun) = open.Pop();
                    if (anchor is not null) sizes[anchor] = nodes - begun + 1;
                    break;
            }
        }
    }
}
