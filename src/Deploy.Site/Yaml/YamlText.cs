using Deploy.Core.Model;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Deploy.Site.Yaml;

/// <summary>
/// A YAML file edited through its node tree, keeping everything else of its text (comments, quoting, order, blank
/// lines): each edit finds its nodes by value (a quoted key is the same key) and splices the text at their exact
/// positions. An edit returns the new text; the caller parses it again for the next edit and checks the result.
/// </summary>
public sealed class YamlText
{
    public string Text { get; }
    public YamlMappingNode Root { get; }

    private YamlText(string text, YamlMappingNode root) { Text = text; Root = root; }

    /// <summary>Parses a file's text (within <see cref="YamlLimits"/>); errors name <paramref name="display"/> and the line.</summary>
    public static YamlText Parse(string text, string display)
    {
        var stream = new YamlStream();
        try
        {
            YamlLimits.Check(text, display);
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new SiteException(display, (int)e.Start.Line, "malformed YAML: " + (e.InnerException?.Message ?? e.Message));
        }
        catch (InvalidOperationException)
        {
            throw new SiteException(display, 0, "malformed YAML: unexpected end of file");
        }
        return stream.Documents.Count == 0 ? new YamlText(text, new YamlMappingNode()) : stream.Documents[0].RootNode switch
        {
            YamlMappingNode m => new YamlText(text, m),
            YamlScalarNode { Value: null or "" } => new YamlText(text, new YamlMappingNode()),
            var other => throw new SiteException(display, (int)other.Start.Line, "expected a mapping at the top of the file"),
        };
    }

    /// <summary>The entries of a mapping whose key matches (a key of another shape than a scalar never matches).</summary>
    public static IEnumerable<(YamlScalarNode Key, YamlNode Value)> Entries(YamlMappingNode map, Func<string, bool> match) =>
        map.Children.Where(c => c.Key is YamlScalarNode { Value: { } k } && match(k)).Select(c => ((YamlScalarNode)c.Key, c.Value));

    /// <summary>Replaces an entry's value: from just after the ':' that follows its key to the value's end.
    /// <paramref name="valueText"/> starts with a space (" 5", " [a, b]") or a line break and an indented block.</summary>
    public string ReplaceValue(YamlNode key, YamlNode value, string valueText)
    {
        var start = AfterColon(key);
        return Text[..start] + valueText + Text[Math.Max(start, End(value))..];
    }

    /// <summary>Replaces a node (a list item, a value) by a flow text ("600", "{a: 1}").</summary>
    public string ReplaceNode(YamlNode node, string flowText)
    {
        if (IsEmpty(node)) return Text[..Start(node)] + " " + flowText + Text[Start(node)..];
        return Text[..Start(node)] + flowText + Text[End(node)..];
    }

    /// <summary>Adds an entry to a mapping: after its last entry at the indentation of its first (block), or before its
    /// closing brace (flow). An empty <see cref="Root"/> gets the entry appended.</summary>
    public string Add(YamlMappingNode map, string keyText, string valueText)
    {
        if (map.Children.Count == 0 && map.Style != YamlDotNet.Core.Events.MappingStyle.Flow)
        {
            if (!ReferenceEquals(map, Root)) throw new DeployException("internal: an empty block mapping has no text to add to");
            var sep = Text.Length == 0 || Text.EndsWith('\n') ? "" : "\n";
            return Text + sep + keyText + ":" + valueText + "\n";
        }
        if (map.Style == YamlDotNet.Core.Events.MappingStyle.Flow)
        {
            var close = End(map) - 1;
            return Text[..close] + (map.Children.Count > 0 ? ", " : "") + keyText + ":" + valueText + Text[close..];
        }
        var first = map.Children.First().Key;
        var indent = new string(' ', (int)first.Start.Column - 1);
        var at = Text.IndexOf('\n', End(map));
        if (at < 0) return Text + "\n" + indent + keyText + ":" + valueText + "\n";
        return Text[..at] + "\n" + indent + keyText + ":" + valueText + Text[at..];
    }

    /// <summary>Appends an item to a list: a "- item" line at the indentation of its first (block), or before its
    /// closing bracket (flow).</summary>
    public string AddItem(YamlSequenceNode seq, string flowText)
    {
        if (seq.Style == YamlDotNet.Core.Events.SequenceStyle.Flow)
        {
            var close = End(seq) - 1;
            return Text[..close] + (seq.Children.Count > 0 ? ", " : "") + flowText + Text[close..];
        }
        var indent = new string(' ', (int)seq.Start.Column - 1);
        var at = Text.IndexOf('\n', End(seq));
        if (at < 0) return Text + "\n" + indent + "- " + flowText + "\n";
        return Text[..at] + "\n" + indent + "- " + flowText + Text[at..];
    }

    /// <summary>Removes a list's item: its "- item" lines (block) or its text and one comma (flow); null when the
    /// item shares its line with other text.</summary>
    public string? RemoveItem(YamlSequenceNode seq, YamlNode item)
    {
        if (seq.Style == YamlDotNet.Core.Events.SequenceStyle.Flow) return RemoveFlow(Start(item), End(item));
        var lineStart = LineStart(Start(item));
        if (Text[lineStart..Start(item)].Trim() != "-") return null;
        var lineEnd = Text.IndexOf('\n', End(item));
        return Text[..lineStart] + (lineEnd < 0 ? "" : Text[(lineEnd + 1)..]);
    }

    /// <summary>Inserts lines before the first entry of the file (after its leading comments).</summary>
    public string InsertAtTop(string line)
    {
        if (Root.Children.Count == 0) return Add(Root, line.Split(':')[0], line[(line.IndexOf(':') + 1)..]);
        var at = LineStart(Start(Root.Children.First().Key));
        return Text[..at] + line + "\n" + Text[at..];
    }

    /// <summary>Removes an entry: its lines (block; the key must begin its line) or its text and one comma (flow).</summary>
    public string? Remove(YamlMappingNode map, YamlNode key, YamlNode value)
    {
        var end = End(value);
        if (map.Style == YamlDotNet.Core.Events.MappingStyle.Flow) return RemoveFlow(Start(key), end);
        var lineStart = LineStart(Start(key));
        if (Text[lineStart..Start(key)].Trim().Length > 0) return null; // "- key: v": the caller rewrites the whole value
        var lineEnd = Text.IndexOf('\n', end);
        return Text[..lineStart] + (lineEnd < 0 ? "" : Text[(lineEnd + 1)..]);
    }

    /// <summary>A flow collection's entry or item, with the comma after it (or, for the last, the one before it).</summary>
    private string RemoveFlow(int start, int end)
    {
        var after = end;
        while (after < Text.Length && Text[after] is ' ' or '\t') after++;
        if (after < Text.Length && Text[after] == ',') end = SkipBlanks(after + 1);
        else
        {
            var before = start;
            while (before > 0 && char.IsWhiteSpace(Text[before - 1])) before--;
            if (before > 0 && Text[before - 1] == ',') start = before - 1;
        }
        return Text[..start] + Text[end..];
    }

    private int SkipBlanks(int i)
    {
        while (i < Text.Length && Text[i] is ' ' or '\t') i++;
        return i;
    }

    private int LineStart(int index) => index == 0 ? 0 : Text.LastIndexOf('\n', index - 1) + 1;

    private static int Start(YamlNode node) => (int)node.Start.Index;

    private static bool IsEmpty(YamlNode node) => node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any } && node.Start.Index == node.End.Index;

    private int AfterColon(YamlNode key)
    {
        var i = End(key);
        while (i < Text.Length && Text[i] is ' ' or '\t') i++;
        if (i >= Text.Length || Text[i] != ':') throw new DeployException($"line {key.Start.Line}: a key of an unusual form ('?'): edit this entry by hand");
        return i + 1;
    }

    /// <summary>Where a node's own text ends: a scalar's last character (a block scalar's trailing line breaks left
    /// out), a block collection's last descendant, a flow collection's closing bracket.</summary>
    public int End(YamlNode node)
    {
        switch (node)
        {
            case YamlScalarNode s:
                if (IsEmpty(s)) return Start(s);
                var end = Math.Min((int)s.End.Index, Text.Length);
                while (end > Start(s) + 1 && char.IsWhiteSpace(Text[end - 1])) end--;
                return end;
            case YamlMappingNode m:
                var last = m.Children.Count == 0 ? Start(m) + 1 : Math.Max(End(m.Children.Last().Key), End(m.Children.Last().Value));
                return m.Style == YamlDotNet.Core.Events.MappingStyle.Flow ? Closing(last, '}') : last;
            case YamlSequenceNode q:
                var lastItem = q.Children.Count == 0 ? Start(q) + 1 : End(q.Children.Last());
                return q.Style == YamlDotNet.Core.Events.SequenceStyle.Flow ? Closing(lastItem, ']') : lastItem;
            default:
                return Start(node);
        }
    }

    /// <summary>Just after the closing bracket that follows a flow collection's last item (blanks, commas and comments between).</summary>
    private int Closing(int from, char bracket)
    {
        for (var i = from; i < Text.Length; i++)
        {
            if (Text[i] == bracket) return i + 1;
            if (Text[i] == '#') i = Text.IndexOf('\n', i) is var nl and >= 0 ? nl : Text.Length;
        }
        throw new DeployException("internal: no closing bracket for a flow collection");
    }
}
