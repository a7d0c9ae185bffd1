using System.Collections.Immutable;
using System.Globalization;
using Deploy.Core.Model;

namespace Deploy.Site.Model;

/// <summary>What <c>~/.ssh/config</c> says for one name: the first value of each keyword, as OpenSSH takes it.</summary>
public sealed record SshConfigEntry(
    string? HostName = null,
    string? User = null,
    int? Port = null,
    string? IdentityFile = null,
    string? ProxyJump = null,
    TimeSpan? ConnectTimeout = null,
    int? ConnectionAttempts = null);

/// <summary>
/// The operator's OpenSSH client configuration (<c>~/.ssh/config</c>, or the file <c>NF_DEPLOY_SSH_CONFIG</c> names):
/// <c>Host</c> blocks with patterns (<c>*</c>, <c>?</c>, <c>!</c>negation) and the keywords HostName, User, Port,
/// IdentityFile, ProxyJump, ConnectTimeout and ConnectionAttempts. Other keywords are ignored, as are <c>Match</c>
/// blocks (their conditions are not evaluated, so nothing in them applies) and <c>Include</c>.
/// </summary>
public sealed class SshConfigFile
{
    /// <summary>Names the ssh config file to read instead of <c>~/.ssh/config</c> (tests, CI); <c>/dev/null</c>: none.</summary>
    public const string PathVariable = "NF_DEPLOY_SSH_CONFIG";

    private static readonly string[] Known =
        ["hostname", "user", "port", "identityfile", "proxyjump", "connecttimeout", "connectionattempts"];

    private readonly ImmutableArray<Block> _blocks;

    private SshConfigFile(string path, ImmutableArray<Block> blocks)
    {
        Path = path;
        _blocks = blocks;
    }

    public string Path { get; }

    public static readonly SshConfigFile Empty = new("", []);

    /// <summary>Reads the operator's ssh config (the file <see cref="PathVariable"/> names, else ~/.ssh/config); none: empty.</summary>
    public static SshConfigFile LoadDefault()
    {
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var path = Environment.GetEnvironmentVariable(PathVariable) ?? System.IO.Path.Combine(home, ".ssh", "config");
        if (path.Length == 0 || !File.Exists(path)) return Empty;
        try
        {
            return Parse(File.ReadAllText(path), path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DeployException($"{path}: cannot read the ssh config: {e.Message}", e);
        }
    }

    public static SshConfigFile Parse(string text, string path)
    {
        var blocks = new List<Block> { new(["*"]) }; // lines before the first Host apply to every host
        var number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var words = Words(raw.Trim());
            if (words.Count == 0) continue;
            var keyword = words[0].ToLowerInvariant();
            var args = words.Skip(1).ToList();
            if (keyword == "host")
            {
                if (args.Count == 0) throw new DeployException($"{path}:{number}: Host needs at least one pattern");
                blocks.Add(new Block([.. args]));
            }
            else if (keyword == "match") blocks.Add(new Block([])); // conditions are not evaluated: never applies
            else if (Known.Contains(keyword))
            {
                if (args.Count == 0) throw new DeployException($"{path}:{number}: {words[0]} needs a value");
                blocks[^1].Values.Add((keyword, args[0], number));
            }
        }
        return new SshConfigFile(path, [.. blocks]);
    }

    /// <summary>The settings for <paramref name="name"/> (as <c>ssh name</c> would take them): first value wins.</summary>
    public SshConfigEntry For(string name)
    {
        var first = new Dictionary<string, (string Value, int Line)>(StringComparer.Ordinal);
        foreach (var block in _blocks.Where(b => b.Matches(name)))
            foreach (var (keyword, value, line) in block.Values)
                first.TryAdd(keyword, (value, line));
        string? Get(string keyword) => first.TryGetValue(keyword, out var found) ? Expand(found.Value, name, keyword) : null;
        int? Number(string keyword, int max) => first.TryGetValue(keyword, out var found)
            ? int.TryParse(found.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number >= 1 && number <= max
                ? number
                : throw new DeployException($"{Path}:{found.Line}: {keyword} must be a whole number from 1 to {max}, not '{found.Value}'")
            : null;
        var jump = Get("proxyjump");
        return new SshConfigEntry(Get("hostname"), Get("user"), Number("port", 65535), Get("identityfile"),
            jump is null || jump.Equals("none", StringComparison.OrdinalIgnoreCase) ? null : jump,
            Number("connecttimeout", 3600) is { } seconds ? TimeSpan.FromSeconds(seconds) : null, Number("connectionattempts", 100));
    }

    /// <summary>The tokens of ssh_config(5) that make sense here: ~, %h (the name), %d (home), %u (local user), %%.</summary>
    private static string Expand(string value, string name, string keyword)
    {
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (keyword == "identityfile" && value.StartsWith("~/", StringComparison.Ordinal)) value = System.IO.Path.Combine(home, value[2..]);
        if (keyword is not ("identityfile" or "hostname")) return value;
        return value.Replace("%%", "\0", StringComparison.Ordinal).Replace("%h", name, StringComparison.Ordinal)
            .Replace("%d", home, StringComparison.Ordinal).Replace("%u", Environment.UserName, StringComparison.Ordinal)
            .Replace("\0", "%", StringComparison.Ordinal);
    }

    /// <summary>A line's words: split on blanks and one '=', double quotes group, '#' starts a comment.</summary>
    private static List<string> Words(string line)
    {
        var words = new List<string>();
        var current = new System.Text.StringBuilder();
        var quoted = false;
        var any = false;
        foreach (var character in line)
        {
            if (character == '"') { quoted = !quoted; any = true; continue; }
            if (!quoted && character == '#' && current.Length == 0) break;
            if (!quoted && char.IsWhiteSpace(character))
            {
                if (any) words.Add(current.ToString());
                current.Clear();
                any = false;
                continue;
            }
            current.Append(character);
            any = true;
        }
        if (any) words.Add(current.ToString());
        // "Keyword=value", "Keyword = value", "Keyword =value"
        if (words.Count > 0 && words[0].IndexOf('=', StringComparison.Ordinal) is > 0 and var at)
        {
            if (at < words[0].Length - 1) words.Insert(1, words[0][(at + 1)..]);
            words[0] = words[0][..at];
        }
        else if (words.Count > 1 && words[1].StartsWith('='))
        {
            if (words[1].Length == 1) words.RemoveAt(1);
            else words[1] = words[1][1..];
        }
        return words;
    }

    private sealed class Block(ImmutableArray<string> patterns)
    {
        public List<(string Keyword, string Value, int Line)> Values { get; } = [];

        /// <summary>As OpenSSH: some pattern matches and no negated one does.</summary>
        public bool Matches(string name) =>
            patterns.Any(p => !p.StartsWith('!') && Glob(p, name)) && !patterns.Any(p => p.StartsWith('!') && Glob(p[1..], name));

        private static bool Glob(string pattern, string name) =>
            System.Text.RegularExpressions.Regex.IsMatch(name,
                "^" + System.Text.RegularExpressions.Regex.Escape(pattern).Replace(@"\*", ".*", StringComparison.Ordinal)
                    .Replace(@"\?", ".", StringComparison.Ordinal) + "$",
                System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant);
    }
}
