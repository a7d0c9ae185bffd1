using Deploy.Core.Model;

namespace Deploy.Site.Model.Ansible;

/// <summary>A var as an Ansible inventory file set it: its value and where.</summary>
public sealed record AnsibleVar(object? Value, string File, int Line);

/// <summary>A group of an Ansible inventory file as written: its own hosts, child groups and vars.</summary>
public sealed class AnsibleGroupSource(string name, string file, int line)
{
    public string Name { get; } = name;
    public string File { get; } = file;
    public int Line { get; } = line;
    public List<string> Hosts { get; } = [];
    public List<string> Children { get; } = [];
    public Dictionary<string, AnsibleVar> Vars { get; } = new(StringComparer.Ordinal);
}

/// <summary>A host of an Ansible inventory file as written (its name may carry a port: <c>sip-a.example.net:2222</c>).</summary>
public sealed class AnsibleHostSource(string entry, string file, int line)
{
    public string Entry { get; } = entry;
    public string File { get; } = file;
    public int Line { get; } = line;
    public Dictionary<string, AnsibleVar> Vars { get; } = new(StringComparer.Ordinal);
}

/// <summary>An Ansible inventory file parsed (INI or YAML), before group_vars/ and host_vars/ and the precedence.</summary>
public sealed class AnsibleSource
{
    /// <summary>Groups in the order they first appear; <c>all</c> is always there.</summary>
    public Dictionary<string, AnsibleGroupSource> Groups { get; } = new(StringComparer.Ordinal);

    /// <summary>Hosts in the order they first appear.</summary>
    public Dictionary<string, AnsibleHostSource> Hosts { get; } = new(StringComparer.Ordinal);

    /// <summary>The most hosts an inventory may expand to (ranges such as <c>pgw[001:999]</c> included).</summary>
    public const int MaxHosts = 10_000;

    private static readonly System.Text.RegularExpressions.Regex GroupName = new("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$");

    public AnsibleGroupSource Group(string name, string file, int line)
    {
        if (!GroupName.IsMatch(name))
            throw new SiteException(file, line,
                $"'{SiteNames.Printable(name)}' is not a valid group name (letters, digits, '_', '-' and '.', at most 63)");
        if (!Groups.TryGetValue(name, out var group)) Groups[name] = group = new AnsibleGroupSource(name, file, line);
        return group;
    }

    public AnsibleHostSource Host(string entry, string file, int line)
    {
        if (entry.Length is 0 or > 253 || entry.Any(c => char.IsControl(c) || char.IsWhiteSpace(c)))
            throw new SiteException(file, line, $"'{SiteNames.Printable(entry)}' is not a valid host");
        if (!Hosts.TryGetValue(entry, out var host))
        {
            if (Hosts.Count >= MaxHosts) throw new SiteException(file, line, $"the inventory has more than {MaxHosts} hosts");
            Hosts[entry] = host = new AnsibleHostSource(entry, file, line);
        }
        return host;
    }

    /// <summary>Expands Ansible's host ranges: <c>pgw-[1:3]</c>, <c>sip-[a:c]</c>, <c>node[01:10:2]</c>.</summary>
    public static IEnumerable<string> Expand(string pattern, string file, int line)
    {
        var open = pattern.IndexOf('[');
        if (open < 0) return [pattern];
        var close = pattern.IndexOf(']', open);
        if (close < 0) throw new SiteException(file, line, $"host range '{pattern}' has no closing ']'");
        var parts = pattern[(open + 1)..close].Split(':');
        if (parts.Length is < 2 or > 3 || parts[0].Length == 0 || parts[1].Length == 0)
            throw new SiteException(file, line, $"host range '{pattern}' must be [first:last] or [first:last:step]");
        var step = 1;
        if (parts.Length == 3 && (!int.TryParse(parts[2], out step) || step < 1))
            throw new SiteException(file, line, $"host range '{pattern}': the step must be a positive number");
        IEnumerable<string> items;
        if (int.TryParse(parts[0], out var first) && int.TryParse(parts[1], out var last) && first <= last && last - first < MaxHosts)
            items = Enumerable.Range(first, last - first + 1).Where(i => (i - first) % step == 0)
                .Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(parts[0].Length, '0'));
        else if (parts[0] is [var from] && parts[1] is [var to] && char.IsAsciiLetterLower(from) && char.IsAsciiLetterLower(to) && from <= to)
            items = Enumerable.Range(from, to - from + 1).Where(i => (i - from) % step == 0).Select(i => ((char)i).ToString());
        else throw new SiteException(file, line, $"host range '{pattern}' must count up, with numbers or with single letters a-z");
        var rest = Expand(pattern[(close + 1)..], file, line).ToList();
        return items.SelectMany(i => rest.Select(r => pattern[..open] + i + r)).Take(MaxHosts + 1);
    }
}
