using System.Globalization;
using System.Text;
using Deploy.Core.Model;

namespace Deploy.Site.Model.Ansible;

/// <summary>
/// Ansible's INI inventory: <c>[group]</c> host lines (<c>name key=value ...</c>, ranges such as <c>pgw[1:3]</c>),
/// <c>[group:vars]</c> and <c>[group:children]</c>. Values are read as Ansible reads them (its <c>literal_eval</c>):
/// numbers, <c>True</c>/<c>False</c>, quoted strings; anything else is the text itself.
/// </summary>
public static class AnsibleIni
{
    public static AnsibleSource Parse(string text, string file)
    {
        var source = new AnsibleSource();
        source.Group("all", file, 0);
        var (group, kind) = ("ungrouped", "hosts");
        var number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or ';') continue;
            if (line.Any(c => char.IsControl(c) && c != '\t')) throw new SiteException(file, number, "the line holds control characters");
            if (line[0] == '[')
            {
                if (!line.EndsWith(']')) throw new SiteException(file, number, $"section '{line}' has no closing ']'");
                var header = line[1..^1].Split(':', 2);
                (group, kind) = (header[0], header.Length == 1 ? "hosts" : header[1]);
                if (kind is not ("hosts" or "vars" or "children"))
                    throw new SiteException(file, number, $"section '[{line[1..^1]}]': expected [group], [group:vars] or [group:children]");
                source.Group(group, file, number);
                continue;
            }
            switch (kind)
            {
                case "children":
                    source.Group(line, file, number);
                    var parent = source.Groups[group];
                    if (!parent.Children.Contains(line)) parent.Children.Add(line);
                    break;
                case "vars":
                    var eq = line.IndexOf('=');
                    if (eq <= 0) throw new SiteException(file, number, $"expected key=value in [{group}:vars], not '{line}'");
                    source.Groups[group].Vars[line[..eq].Trim()] = new AnsibleVar(Value(line[(eq + 1)..].Trim()), file, number);
                    break;
                default:
                    var words = Words(line, file, number);
                    foreach (var entry in AnsibleSource.Expand(words[0], file, number))
                    {
                        var host = source.Host(entry, file, number);
                        var members = source.Group(group, file, number).Hosts;
                        if (!members.Contains(entry)) members.Add(entry);
                        foreach (var word in words.Skip(1))
                        {
                            var at = word.IndexOf('=');
                            if (at <= 0) throw new SiteException(file, number, $"host '{words[0]}': expected key=value, not '{word}'");
                            host.Vars[word[..at]] = new AnsibleVar(Value(word[(at + 1)..]), file, number);
                        }
                    }
                    break;
            }
        }
        return source;
    }

    /// <summary>A value as Ansible's <c>ast.literal_eval</c> gives it, for the literals an inventory holds.</summary>
    public static object? Value(string text)
    {
        switch (text)
        {
            case "True": return true;
            case "False": return false;
            case "None": return null;
        }
        if (text.Length >= 2 && (text[0] == '"' || text[0] == '\'') && text[^1] == text[0]) return text[1..^1];
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var whole)) return whole;
        if (text.Contains('.') && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var real)) return real;
        return text;
    }

    /// <summary>A host line split as Ansible splits it (shlex, with # comments): quotes group words and are removed.</summary>
    private static List<string> Words(string line, string file, int number)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var (quote, any) = ('\0', false);
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quote != '\0')
            {
                if (c == quote) quote = '\0';
                else if (c == '\\' && quote == '"' && i + 1 < line.Length) word.Append(line[++i]);
                else word.Append(c);
            }
            else if (c is '"' or '\'') (quote, any) = (c, true);
            else if (c == '#' && !any) break;
            else if (char.IsWhiteSpace(c))
            {
                if (any) words.Add(word.ToString());
                (word, any) = (new StringBuilder(), false);
            }
            else
            {
                word.Append(c);
                any = true;
            }
        }
        if (quote != '\0') throw new SiteException(file, number, "a quote is not closed");
        if (any) words.Add(word.ToString());
        return words;
    }
}
