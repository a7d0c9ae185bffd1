using System.Text;
using Deploy.Core.Model;
using Deploy.Site.Yaml;
using YamlDotNet.RepresentationModel;

namespace Deploy.Site.Model;

/// <summary>
/// Edits of a stack file (<c>config set|rm</c>, <c>--secret</c>, <c>--path</c>, <c>stack init</c>) through its YAML
/// node tree (<see cref="YamlText"/>): a key is found by its value whatever its quoting, the rest of the file stays as it
/// was, and the edited file is read back and must hold exactly the intended data before it replaces the old one (so an
/// edit never breaks the file). One writer at a time (a lock on the stack file); a stack file is made only by Init.
/// </summary>
public sealed partial record StackConfig
{
    /// <summary>Pulumi's <c>stack init</c>: a stack file with every setting at its default. Returns its path.</summary>
    public static string Init(string projectDir, ProjectFile project, string stack)
    {
        var path = PathFor(projectDir, project, stack);
        var display = Path.GetRelativePath(projectDir, path);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var _ = Deploy.Core.State.FileMutex.Acquire(projectDir, $"stack-{stack}");
        if (File.Exists(path)) throw new DeployException($"stack '{stack}' already exists ({display})");
        Write(path, $"# Settings of stack {stack}: ./deploy config set <key> <value> --stack {stack} (unset ones take their default from {ProjectFile.FileName})\nconfig:\n");
        return display;
    }

    /// <summary>Sets (or with a null value removes) one setting. A value is written so that it stays one setting
    /// (control characters are escaped in strings and refused elsewhere).</summary>
    public static void Edit(string projectDir, ProjectFile project, string stack, string key, string? yamlValue)
    {
        var setting = Setting(project, key);
        if (yamlValue is null) { Change(projectDir, project, stack, text => Apply(text, project, key, null, null)); return; }
        if (setting.Type != "string" && yamlValue.Any(IsLineBreakOrControl))
            throw new DeployException($"'{key}': a value of type {setting.Type} is one line: control characters (a newline, a tab...) are refused");
        var t = yamlValue.Trim();
        var parsed = setting.Type == "string" && yamlValue.Any(IsLineBreakOrControl) ? yamlValue : ParseValue(yamlValue);
        var (coerced, err) = ProjectFile.Coerce(setting, parsed);
        if (err is not null) throw new DeployException(err);
        var (text, data) = setting.Type switch
        {
            "string" => (YamlFlow.Quoted(t), t),
            "integer" or "boolean" => (YamlFlow.Render(coerced), coerced),
            _ => (t, parsed), // a list or mapping as it was given ([a, b]), checked when read back
        };
        Change(projectDir, project, stack, old => Apply(old, project, key, new NewValue(" " + text), data));
    }

    /// <summary>Sets a secret setting: encrypted with the stack's passphrase (Pulumi's <c>secure:</c> form). The salt is
    /// made, once, under the stack file's lock: parallel first secrets of a stack share one salt.</summary>
    public static void EditSecret(string projectDir, ProjectFile project, string stack, string key, string value, string? passphrase)
    {
        var setting = Setting(project, key);
        if (setting.Type != "string") throw new DeployException($"'{key}' is of type {setting.Type}: only string settings can be secret");
        if (passphrase is null) throw new DeployException("a secret needs a passphrase: set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE)");
        Change(projectDir, project, stack, text =>
        {
            var salt = YamlText.Entries(YamlText.Parse(text, "").Root, k => k == "encryptionsalt").Select(e => e.Value).OfType<YamlScalarNode>().FirstOrDefault()?.Value;
            Secrets.PassphraseCrypter crypter;
            if (string.IsNullOrEmpty(salt))
            {
                (crypter, salt) = Secrets.PassphraseCrypter.Create(passphrase);
                text = Checked(text, doc => doc.InsertAtTop($"encryptionsalt: {salt}"), root => root["encryptionsalt"] = salt);
            }
            else crypter = Secrets.PassphraseCrypter.Open(passphrase, salt, stack);
            var secure = crypter.Encrypt(value);
            var data = new Dictionary<string, object?>(StringComparer.Ordinal) { ["secure"] = secure };
            return Apply(text, project, key, new NewValue(" " + YamlFlow.Render(data), indent => $"\n{new string(' ', indent + 2)}secure: {secure}"), data);
        });
    }

    /// <summary><c>config set|rm --path</c>: one key or item inside a list or mapping setting (the rest of its text kept
    /// when the key or item is already there; otherwise the setting is written again as one line of flow YAML).</summary>
    public static void EditPath(string projectDir, ProjectFile project, string stack, ConfigPath path, string? yamlValue)
    {
        var setting = Setting(project, path.Setting);
        if (path.Steps.Count == 0) { Edit(projectDir, project, stack, path.Setting, yamlValue); return; }
        if (setting.Type is not ("array" or "object"))
            throw new DeployException($"config path '{path.Text}': '{path.Setting}' is of type {setting.Type}: a path leads into a list or mapping");
        var leaf = yamlValue is null ? null : yamlValue.Any(IsLineBreakOrControl) ? yamlValue : ParseValue(yamlValue);
        Change(projectDir, project, stack, text =>
        {
            var doc = YamlText.Parse(text, "");
            var entry = ConfigEntries(doc, project, path.Setting).SingleOrDefault();
            var current = entry.Value is null ? setting.Default : YamlFile.ToData(entry.Value);
            var updated = yamlValue is null ? path.Remove(current) : path.Set(current, leaf);
            var (_, err) = ProjectFile.Coerce(setting, updated);
            if (err is not null) throw new DeployException($"config path '{path.Text}': {err}");
            var expect = Expect(project, path.Setting, updated);
            // the key or item itself, when the setting and the way to it are in the file
            if (entry.Value is not null && Walk(entry.Value, path.Steps) is { } at)
            {
                var spliced = (at.Node, yamlValue) switch
                {
                    (not null, not null) => doc.ReplaceNode(at.Node, YamlFlow.Render(leaf)),
                    (null, not null) when at.Parent is YamlMappingNode m && path.Steps[^1] is string k => doc.Add(m, YamlFlow.Scalar(k), " " + YamlFlow.Render(leaf)),
                    (null, not null) when at.Parent is YamlSequenceNode q => doc.AddItem(q, YamlFlow.Render(leaf)),
                    (not null, null) when at.Parent is YamlMappingNode m && at.Key is not null => doc.Remove(m, at.Key, at.Node),
                    (not null, null) when at.Parent is YamlSequenceNode q => doc.RemoveItem(q, at.Node),
                    _ => null,
                };
                if (spliced is not null && TryChecked(text, spliced, expect) is { } done) return done;
            }
            return Apply(text, project, path.Setting, new NewValue(" " + YamlFlow.Render(updated)), updated);
        });
    }

    private static ConfigSetting Setting(ProjectFile project, string key) =>
        project.Settings.TryGetValue(key, out var setting) ? setting
        : throw new DeployException($"unknown setting '{key}' (declared in {ProjectFile.FileName}: {string.Join(", ", project.Settings.Keys)})");

    private static bool IsLineBreakOrControl(char c) => char.IsControl(c) || c is '\u2028' or '\u2029';

    /// <summary>A new value's text: inline (" 5", " [a, b]"), and for a block mapping optionally as an indented block.</summary>
    private sealed record NewValue(string Inline, Func<int, string>? Block = null)
    {
        public string At(int indent, bool flow) => flow || Block is null ? Inline : Block(indent);
    }

    /// <summary>Sets (value not null) or removes one setting in the text; returns the checked new text.</summary>
    private static string Apply(string text, ProjectFile project, string key, NewValue? value, object? data)
    {
        var doc = YamlText.Parse(text, "");
        var full = $"{project.Name}:{key}";
        var config = YamlText.Entries(doc.Root, k => k == "config").ToList();
        var entries = ConfigEntries(doc, project, key).ToList();
        string next;
        if (value is null)
        {
            if (entries.Count == 0) return text;
            var map = (YamlMappingNode)config[0].Value;
            next = doc.Remove(map, entries[0].Key, entries[0].Value) ?? throw new DeployException($"line {entries[0].Key.Start.Line}: '{key}' cannot be removed from this layout: remove it by hand");
        }
        else if (config.Count == 0) next = doc.Add(doc.Root, "config", $"\n  {full}:" + value.At(2, false));
        else if (config[0].Value is YamlScalarNode { Value: null or "" or "~" or "null" })
            next = doc.ReplaceValue(config[0].Key, config[0].Value, $"\n  {full}:" + value.At(2, false));
        else if (config[0].Value is YamlMappingNode map)
        {
            var flow = map.Style == YamlDotNet.Core.Events.MappingStyle.Flow;
            next = entries.Count == 1
                ? doc.ReplaceValue(entries[0].Key, entries[0].Value, value.At((int)entries[0].Key.Start.Column - 1, flow))
                : doc.Add(map, flow ? YamlFlow.Quoted(full) : full, value.At((int)map.Children.First().Key.Start.Column - 1, flow));
        }
        else throw new DeployException($"line {config[0].Value.Start.Line}: 'config' must be a mapping");
        return Checked(text, _ => next, Expect(project, key, value is null ? Removed : data));
    }

    private static readonly object Removed = new();

    /// <summary>The setting's entries in the config block (more than one is an error: the file sets it twice).</summary>
    private static IEnumerable<(YamlScalarNode Key, YamlNode Value)> ConfigEntries(YamlText doc, ProjectFile project, string key)
    {
        var config = YamlText.Entries(doc.Root, k => k == "config").Select(e => e.Value).OfType<YamlMappingNode>().FirstOrDefault();
        if (config is null) return [];
        var entries = YamlText.Entries(config, k => StripNamespace(project, k) == key).ToList();
        if (entries.Count > 1)
            throw new DeployException($"'{key}' is set {entries.Count} times in the stack file (lines {string.Join(", ", entries.Select(e => e.Key.Start.Line))}): keep one");
        return entries;
    }

    /// <summary>What the whole file must read as after the edit: as before, with the setting set (or removed).</summary>
    private static Action<Dictionary<string, object?>> Expect(ProjectFile project, string key, object? data) => root =>
    {
        var config = root.GetValueOrDefault("config") as Dictionary<string, object?> ?? new Dictionary<string, object?>(StringComparer.Ordinal);
        var raw = config.Keys.FirstOrDefault(k => StripNamespace(project, k) == key) ?? $"{project.Name}:{key}";
        config.Remove(raw);
        if (!ReferenceEquals(data, Removed)) config[raw] = data;
        root["config"] = config;
    };

    private static string Checked(string text, Func<YamlText, string> edit, Action<Dictionary<string, object?>> expect) =>
        TryChecked(text, edit(YamlText.Parse(text, "")), expect)
        ?? throw new DeployException("the stack file would not read back as intended after this edit; it is left as it was (edit it by hand, and please report this)");

    private static string? TryChecked(string before, string after, Action<Dictionary<string, object?>> expect)
    {
        var expected = YamlFile.ToData(YamlText.Parse(before, "").Root) as Dictionary<string, object?> ?? [];
        expect(expected);
        try { return YamlFlow.DataEquals(YamlFile.ToData(YamlText.Parse(after, "").Root), expected) ? after : null; }
        catch (SiteException) { return null; }
    }

    /// <summary>The node at the path's last step (null when only that step is missing), with its parent and key.</summary>
    private static (YamlNode Parent, YamlScalarNode? Key, YamlNode? Node)? Walk(YamlNode node, IReadOnlyList<object> steps)
    {
        for (var i = 0; i < steps.Count; i++)
        {
            var (key, child) = (steps[i], node) switch
            {
                (string k, YamlMappingNode m) => YamlText.Entries(m, x => x == k).Select(e => ((YamlScalarNode?)e.Key, (YamlNode?)e.Value)).FirstOrDefault(),
                (int n, YamlSequenceNode s) when n < s.Children.Count => (null, s.Children[n]),
                _ => (null, null),
            };
            if (i == steps.Count - 1) return (node, key, child);
            if (child is null) return null;
            node = child;
        }
        return null;
    }

    /// <summary>Checks that the stack exists, reads its file, edits the text, and writes it back (under the lock).</summary>
    private static void Change(string projectDir, ProjectFile project, string stack, Func<string, string> edit)
    {
        var path = PathFor(projectDir, project, stack);
        using var _ = Deploy.Core.State.FileMutex.Acquire(projectDir, $"stack-{stack}");
        if (!File.Exists(path)) throw new DeployException(NoStack(projectDir, project, stack));
        var display = Path.GetRelativePath(projectDir, path);
        var before = YamlLimits.ReadFile(path, display);
        YamlText.Parse(before, display); // a file that does not parse is reported with its line, not edited
        string after;
        try { after = edit(before); }
        catch (SiteException e) { throw new DeployException($"{display}: {e.Message}", e); }
        if (after != before) Write(path, after);
    }

    /// <summary>Written whole to a temp file of its own (the file's mode kept), then renamed over the stack file.</summary>
    private static void Write(string path, string text)
    {
        var tmp = $"{path}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        var mode = File.Exists(path) && !OperatingSystem.IsWindows() ? File.GetUnixFileMode(path) : (UnixFileMode?)null;
        try
        {
            File.WriteAllText(tmp, text, new UTF8Encoding(false));
            if (mode is { } m && !OperatingSystem.IsWindows()) File.SetUnixFileMode(tmp, m);
            File.Move(tmp, path, overwrite: true);
        }
        finally { File.Delete(tmp); }
    }

    /// <summary>A value given on the command line, read as YAML (so <c>[8.8.8.8, 1.1.1.1]</c> is a list).</summary>
    public static object? ParseValue(string text)
    {
        var stream = new YamlStream();
        try
        {
            YamlLimits.Check("v: " + text, "the value");
            stream.Load(new StringReader("v: " + text));
        }
        catch (YamlDotNet.Core.YamlException) { return text; }
        if (stream.Documents.Count != 1 || stream.Documents[0].RootNode is not YamlMappingNode { Children.Count: 1 } root) return text;
        return YamlFile.ToData(root.Children[new YamlScalarNode("v")]);
    }
}
