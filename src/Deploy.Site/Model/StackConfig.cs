using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Site.Yaml;
using YamlDotNet.RepresentationModel;

namespace Deploy.Site.Model;

/// <summary>
/// A stack's settings: <c>stacks/Pulumi.&lt;stack&gt;.yaml</c> in Pulumi's format (<c>config:</c> with
/// <c>nf-deploy:&lt;key&gt;</c> keys), merged over the defaults declared in Pulumi.yaml and type-checked.
/// </summary>
public sealed partial record StackConfig(string Stack, string FilePath, ImmutableSortedDictionary<string, object?> Values)
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
    public StackConfig Decrypted(string? passphrase) =>
        !HasSecrets ? this : WithPlaintexts(Secrets.PassphraseCrypter.Open(passphrase ?? throw NoPassphrase(), EncryptionSalt ?? throw NoSalt(), Stack));

    /// <summary>As <see cref="Decrypted"/>, with the passphrase's key kept between runs by <paramref name="keys"/> (the
    /// user's SSH broker) when it is given.</summary>
    public async Task<StackConfig> DecryptedAsync(string? passphrase, Deploy.Core.Secrets.IDerivedKeyCache? keys, CancellationToken ct) =>
        !HasSecrets ? this : WithPlaintexts(await Secrets.PassphraseCrypter.OpenAsync(passphrase ?? throw NoPassphrase(), EncryptionSalt ?? throw NoSalt(), Stack, keys, ct));

    private DeployException NoPassphrase() =>
        new($"stack {Stack} has secret settings: set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to its passphrase");

    private DeployException NoSalt() => new($"stack {Stack} has secret settings but no encryptionsalt in {DisplayPath}");

    private StackConfig WithPlaintexts(Secrets.PassphraseCrypter crypter)
    {
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
        if (!File.Exists(path)) throw new DeployException(NoStack(projectDir, project, stack));
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

    /// <summary>Whether the stack's file exists (only <c>stack init</c> makes one).</summary>
    public static bool Exists(string projectDir, ProjectFile project, string stack) => File.Exists(PathFor(projectDir, project, stack));

    /// <summary>The error for a stack that does not exist, with the stacks that do and how to make it.</summary>
    public static string NoStack(string projectDir, ProjectFile project, string stack) =>
        $"no stack '{stack}': {Path.GetRelativePath(projectDir, PathFor(projectDir, project, stack))} does not exist " +
        $"(stacks: {string.Join(", ", List(projectDir, project))}); a new one is made by ./deploy stack init {stack}";

    private static string? StripNamespace(ProjectFile project, string key) =>
        key.StartsWith(project.Name + ":", StringComparison.Ordinal) ? key[(project.Name.Length + 1)..]
        : key.Contains(':') ? null : key;
}

/// <summary>A secret kept encrypted in the stack file (Pulumi's <c>secure:</c> form).</summary>
public sealed record SecureValue(string Ciphertext)
{
    public override string ToString() => "[secret]";
}
