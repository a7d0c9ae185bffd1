using System.Collections.Immutable;
using System.Text;
using Deploy.Core.Model;
using Deploy.Site.Yaml;
using YamlDotNet.RepresentationModel;

namespace Deploy.Site.Model;

/// <summary>
/// A stack's settings: <c>stacks/Pulumi.&lt;stack&gt;.yaml</c> in Pulumi's format (<c>config:</c> with
/// <c>nf-deploy:&lt;key&gt;</c> keys), merged over the defaults declared in Pulumi.yaml and type-checked.
/// </summary>
public sealed record StackConfig(string Stack, string FilePath, ImmutableSortedDictionary<string, object?> Values)
{
    /// <summary>Pulumi's <c>encryptionsalt</c> of the stack file, present once a secret was set.</summary>
    public string? EncryptionSalt { get; init; }

    /// <summary>The plaintexts of the secret settings, once decrypted (to keep them out of every output).</summary>
    public ImmutableArray<string> SecretValues { get; init; } = [];

    /// <summary>The stack file's path relative to the project (for messages).</summary>
    public string DisplayPath { get; init; } = FilePath;

    public bool HasSecrets => Values.Values.Any(v => v is SecureValue);


    /// <summary>For list settings set in the stack file: the line of each item (errors about an item point at it).</summary>
    public ImmutableSortedDictionary<string, ImmutableArray<int>> ItemLines { get; init; } = ImmutableSortedDictionary<string, ImmutableArray<int>>.Empty;

    /// <summary>The line of a setting in the stack file, 0 when it is not set there (its default applies).</summary>
    public ImmutableSortedDictionary<string, int> KeyLines { get; init; } = ImmutableSortedDictionary<string, int>.Empty;

    /// <summary>The settings with their secrets decrypted by the passphrase (PULUMI_CONFIG_PASSPHRASE[_FILE]).</summary>
    public StackConfig Decrypted(string? passphrase)
    {
        if (!HasSecrets) return this;
        if (passphrase is null)
            throw new DeployException($"stack {Stack} has secret settings: set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to its passphrase");
        if (EncryptionSalt is null) throw new DeployException($"stack {Stack} has secret settings but no encryptionsalt in {DisplayPath}");
        var crypter = Secrets.PassphraseCrypter.Open(passphrase, EncryptionSalt, Stack);
        var plain = Values.ToImmutableSortedDictionary(kv => kv.Key,
            kv => kv.Value is SecureValue s ? (object?)crypter.Decrypt(s.Ciphertext, $"stack {Stack}: setting '{kv.Key}'") : kv.Value, StringComparer.Ordinal);
        return this with
        {
            Values = plain,
            SecretValues = [.. Values.Where(kv => kv.Value is SecureValue).Select(kv => (string)plain[kv.Key]!).Where(v => v.Length > 0)],
            StateHashKey = crypter.StateHashKey,
        };
    }

    /// <summary>Keys the hashes of secrets the state keeps (derived from the passphrase's key, never written anywhere).</summary>
    public string StateHashKey { get; init; } = "";

    public static string PathFor(string projectDir, ProjectFile project, string stack) =>
        Path.Combine(projectDir, project.StackConfigDir, $"Pulumi.{StackName.Check(stack)}.yaml");

    public static StackConfig Load(string projectDir, ProjectFile project, string stack)
    {
        var path = PathFor(projectDir, project, stack);
        if (!File.Exists(path))
            throw new DeployException($"no stack '{stack}': {Path.GetRelativePath(projectDir, path)} does not exist " +
                $"(stacks: {string.Join(", ", List(projectDir, project))})");
        var y = YamlFile.Load(path, projectDir);
        var values = ImmutableSortedDictionary.CreateBuilder<string, object?>(StringComparer.Ordinal);
        var itemLines = ImmutableSortedDictionary.CreateBuilder<string, ImmutableArray<int>>(StringComparer.Ordinal);
        var keyLines = ImmutableSortedDictionary.CreateBuilder<string, int>(StringComparer.Ordinal);
        foreach (var s in project.Settings.Values) values[s.Key] = s.Default;
        if (y.Map(y.Root, "config") is { } config)
            foreach (var (rawKey, keyNode, value) in y.Entries(config))
            {
                var key = StripNamespace(project, rawKey)
                    ?? throw y.Error(keyNode, $"'{rawKey}': settings of this project are named '{project.Name}:<key>'");
                if (!project.Settings.TryGetValue(key, out var setting))
                    throw y.Error(keyNode, $"unknown setting '{key}' (declared settings: {string.Join(", ", project.Settings.Keys)})");
                keyLines[key] = YamlFile.Line(keyNode);
                if (value is YamlSequenceNode items) itemLines[key] = [.. items.Children.Select(YamlFile.Line)];
                var data = YamlFile.ToData(value);
                if (data is Dictionary<string, object?> d && d.Count == 1 && d.ContainsKey("secure"))
                {
                    values[key] = new SecureValue((string)d["secure"]!);
                    continue;
                }
                var (v, err) = ProjectFile.Coerce(setting, data);
                if (err is not null) throw y.Error(value, err);
                values[key] = v;
            }
        return new StackConfig(stack, path, values.ToImmutable())
        {
            EncryptionSalt = y.Str(y.Root, "encryptionsalt"), DisplayPath = y.DisplayPath,
            ItemLines = itemLines.ToImmutable(), KeyLines = keyLines.ToImmutable(),
        };
    }

    public static IEnumerable<string> List(string projectDir, ProjectFile project)
    {
        var dir = Path.Combine(projectDir, project.StackConfigDir);
        return Directory.Exists(dir)
            ? Directory.GetFiles(dir, "Pulumi.*.yaml").Select(f => Path.GetFileName(f)[7..^5]).Order()
            : [];
    }

    private static string? StripNamespace(ProjectFile project, string key) =>
        key.StartsWith(project.Name + ":", StringComparison.Ordinal) ? key[(project.Name.Length + 1)..]
        : key.Contains(':') ? null : key;

    /// <summary>Sets a secret setting: encrypted with the stack's passphrase (Pulumi's <c>secure:</c> form). The salt is
    /// made, once, under the stack file's lock: parallel first secrets of a new stack share one salt.</summary>
    public static void EditSecret(string projectDir, ProjectFile project, string stack, string key, string value, string? passphrase)
    {
        if (!project.Settings.TryGetValue(key, out var setting))
            throw new DeployException($"unknown setting '{key}' (declared in {ProjectFile.FileName}: {string.Join(", ", project.Settings.Keys)})");
        if (setting.Type != "string") throw new DeployException($"'{key}' is of type {setting.Type}: only string settings can be secret");
        if (passphrase is null) throw new DeployException("a secret needs a passphrase: set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE)");
        var path = PathFor(projectDir, project, stack);
        using var _ = Deploy.Core.State.FileMutex.Acquire(projectDir, $"stack-{stack}");
        var salt = File.Exists(path) ? Load(projectDir, project, stack).EncryptionSalt : null;
        Secrets.PassphraseCrypter crypter;
        if (salt is null)
        {
            (crypter, salt) = Secrets.PassphraseCrypter.Create(passphrase);
            var lines = File.Exists(path) ? File.ReadAllLines(path).ToList() : [];
            lines.Insert(0, $"encryptionsalt: {salt}");
            WriteLines(path, lines);
        }
        else crypter = Secrets.PassphraseCrypter.Open(passphrase, salt, stack);
        EditLocked(project, path, key, setting, null);
        Insert(path, $"  {project.Name}:{key}:\n    secure: {crypter.Encrypt(value)}");
    }

    /// <summary>Sets (or with a null value removes) one setting in the stack file, keeping the rest of the file as it is.
    /// One writer at a time (a lock on the stack file); a value is written so that it stays one setting (control
    /// characters are escaped in strings and refused elsewhere).</summary>
    public static void Edit(string projectDir, ProjectFile project, string stack, string key, string? yamlValue)
    {
        if (!project.Settings.TryGetValue(key, out var setting))
            throw new DeployException($"unknown setting '{key}' (declared in {ProjectFile.FileName}: {string.Join(", ", project.Settings.Keys)})");
        if (yamlValue is not null)
        {
            if (setting.Type != "string" && yamlValue.Any(IsLineBreakOrControl))
                throw new DeployException($"'{key}': a value of type {setting.Type} is one line: control characters (a newline, a tab...) are refused");
            var parsed = setting.Type == "string" && yamlValue.Any(IsLineBreakOrControl) ? yamlValue : ParseValue(yamlValue);
            var (_, err) = ProjectFile.Coerce(setting, parsed);
            if (err is not null) throw new DeployException(err);
        }
        var path = PathFor(projectDir, project, stack);
        using var _ = Deploy.Core.State.FileMutex.Acquire(projectDir, $"stack-{stack}");
        EditLocked(project, path, key, setting, yamlValue);
    }

    private static bool IsLineBreakOrControl(char c) => char.IsControl(c) || c is '\u2028' or '\u2029';

    private static void EditLocked(ProjectFile project, string path, string key, ConfigSetting setting, string? yamlValue)
    {
        var lines = File.Exists(path) ? File.ReadAllLines(path).ToList() : ["config:"];
        var configAt = lines.FindIndex(l => l.TrimEnd() == "config:");
        if (configAt < 0) { lines.Add("config:"); configAt = lines.Count - 1; }
        var full = $"{project.Name}:{key}";
        // the setting's line and its more-indented continuation lines
        var start = -1;
        for (var i = configAt + 1; i < lines.Count && (lines[i].Length == 0 || lines[i].StartsWith(' ') || lines[i].StartsWith('#')); i++)
            if (lines[i].TrimStart().StartsWith(full + ":", StringComparison.Ordinal)) { start = i; break; }
        var insertAt = start;
        if (start >= 0)
        {
            var indent = lines[start].Length - lines[start].TrimStart().Length;
            var end = start + 1;
            while (end < lines.Count && lines[end].Trim().Length > 0 && lines[end].Length - lines[end].TrimStart().Length > indent) end++;
            lines.RemoveRange(start, end - start);
        }
        else
        {
            insertAt = configAt + 1;
            while (insertAt < lines.Count && (lines[insertAt].StartsWith(' ') || lines[insertAt].Length == 0)) insertAt++;
            while (insertAt > configAt + 1 && lines[insertAt - 1].Length == 0) insertAt--;
        }
        if (yamlValue is not null) lines.Insert(insertAt, $"  {full}: {Render(setting, yamlValue)}");
        WriteLines(path, lines);
    }

    /// <summary>Adds a setting's text at the end of the config block.</summary>
    private static void Insert(string path, string text)
    {
        var lines = File.ReadAllLines(path).ToList();
        var configAt = lines.FindIndex(l => l.TrimEnd() == "config:");
        if (configAt < 0) { lines.Add("config:"); configAt = lines.Count - 1; }
        var at = configAt + 1;
        while (at < lines.Count && (lines[at].StartsWith(' ') || lines[at].Length == 0)) at++;
        while (at > configAt + 1 && lines[at - 1].Length == 0) at--;
        lines.Insert(at, text);
        WriteLines(path, lines);
    }

    /// <summary>Written whole to a temp file of its own (the file's mode kept), then renamed over the stack file.</summary>
    private static void WriteLines(string path, IEnumerable<string> lines)
    {
        var tmp = $"{path}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        var mode = File.Exists(path) && !OperatingSystem.IsWindows() ? File.GetUnixFileMode(path) : (UnixFileMode?)null;
        try
        {
            File.WriteAllText(tmp, string.Join('\n', lines) + "\n", new UTF8Encoding(false));
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

    private static string Render(ConfigSetting setting, string value)
    {
        var t = value.Trim();
        if (setting.Type is "integer" or "boolean")
            return Convert.ToString(ProjectFile.Coerce(setting, ParseValue(t)).Value, System.Globalization.CultureInfo.InvariantCulture)!.ToLowerInvariant();
        if (setting.Type is "array" or "object") return t;
        // a double-quoted YAML string: a newline or any control character is an escape, never a line of the file
        var sb = new StringBuilder("\"");
        foreach (var c in t)
            sb.Append(c switch
            {
                '\\' => "\\\\",
                '"' => "\\\"",
                '\n' => "\\n",
                '\t' => "\\t",
                '\r' => "\\r",
                _ when IsLineBreakOrControl(c) => $"\\u{(int)c:x4}",
                _ => c.ToString(),
            });
        return sb.Append('"').ToString();
    }
}

/// <summary>A secret kept encrypted in the stack file (Pulumi's <c>secure:</c> form).</summary>
public sealed record SecureValue(string Ciphertext)
{
    public override string ToString() => "[secret]";
}
