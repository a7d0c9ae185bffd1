using Deploy.Cli.Output;
using System.Text.Json;
using Deploy.Site.Model;
using Spectre.Console;

namespace Deploy.Cli;

/// <summary>Pulumi's <c>config</c> and <c>stack init</c>: the stack's settings, read and edited in its stack file.</summary>
public sealed partial class App
{
    /// <summary>Every verb but <c>stack init</c> works on a stack that exists: a typo in --stack creates nothing.</summary>
    public void RequireStack(string stack)
    {
        var project = ProjectFile.Load(ws.ProjectDir);
        if (!StackConfig.Exists(ws.ProjectDir, project, stack)) throw new UsageException(StackConfig.NoStack(ws.ProjectDir, project, stack));
    }

    /// <summary>Pulumi's <c>stack init</c>: a new stack file, every setting at its default.</summary>
    public int StackInit(string? stack)
    {
        if (stack is null) throw new UsageException("stack init needs the new stack's name: ./deploy stack init <name>");
        var path = StackConfig.Init(ws.ProjectDir, ProjectFile.Load(ws.ProjectDir), stack);
        stdout.WriteLine($"Created stack '{stack}' ({path}): set its settings with ./deploy config set <key> <value> --stack {stack}");
        return ExitCodes.Ok;
    }

    public int ConfigSet(string stack, string key, string value, bool secret = false, bool path = false)
    {
        var project = ProjectFile.Load(ws.ProjectDir);
        if (secret && path) throw new UsageException("--secret and --path together: only a whole string setting can be secret");
        if (secret) StackConfig.EditSecret(ws.ProjectDir, project, stack, key, value, ws.Passphrase());
        else if (path) StackConfig.EditPath(ws.ProjectDir, project, stack, ParsePath(key), value);
        else StackConfig.Edit(ws.ProjectDir, project, stack, key, value);
        return ExitCodes.Ok;
    }

    public int ConfigRm(string stack, string key, bool path = false)
    {
        var project = ProjectFile.Load(ws.ProjectDir);
        if (path) StackConfig.EditPath(ws.ProjectDir, project, stack, ParsePath(key), null);
        else StackConfig.Edit(ws.ProjectDir, project, stack, key, null);
        return ExitCodes.Ok;
    }

    /// <summary>Pulumi's <c>config get</c>: the value as it is, a secret's too (decrypted with the passphrase).
    /// Without a key, the listing (<see cref="ConfigList"/>).</summary>
    public int ConfigGet(string stack, string? key, bool path = false, bool json = false)
    {
        if (key is null) return ConfigList(stack, showSecrets: false, json);
        var at = path ? ParsePath(key) : new ConfigPath(key, []);
        var config = StackConfig.Load(ws.ProjectDir, ProjectFile.Load(ws.ProjectDir), stack);
        if (!config.Values.TryGetValue(at.Setting, out var v))
            throw new Deploy.Core.Model.DeployException($"unknown setting '{at.Setting}' (settings: {string.Join(", ", config.Values.Keys)})");
        var secret = v is SecureValue;
        if (secret) v = config.Decrypted(ws.Passphrase()).Values[at.Setting];
        v = at.Get(v);
        stdout.WriteLine(json ? JsonSerializer.Serialize(Entry(v, secret, show: true), Indented) : Show(v));
        return ExitCodes.Ok;
    }

    /// <summary>Pulumi's <c>config</c>: every setting with its value (defaults included); secrets masked unless asked.</summary>
    public int ConfigList(string stack, bool showSecrets, bool json)
    {
        var project = ProjectFile.Load(ws.ProjectDir);
        var config = StackConfig.Load(ws.ProjectDir, project, stack);
        var shown = showSecrets ? config.Decrypted(ws.Passphrase()) : config;
        if (json)
        {
            var doc = config.Values.ToDictionary(kv => $"{project.Name}:{kv.Key}", kv => Entry(shown.Values[kv.Key], kv.Value is SecureValue, showSecrets));
            stdout.WriteLine(JsonSerializer.Serialize(doc, Indented));
            return ExitCodes.Ok;
        }
        var table = Tables.New("KEY", "VALUE");
        foreach (var (k, v) in shown.Values) table.AddRow(Tables.Cell(k), Tables.Cell(Show(v)));
        Print(table);
        return ExitCodes.Ok;
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly JsonSerializerOptions OneLine = new(Indented) { WriteIndented = false };

    /// <summary>Pulumi's JSON form of a setting: value (as text), objectValue (lists and mappings), secret.</summary>
    private static Dictionary<string, object?> Entry(object? v, bool secret, bool show)
    {
        var entry = new Dictionary<string, object?>();
        if (!secret || show)
        {
            entry["value"] = v is List<object?> or Dictionary<string, object?> ? JsonSerializer.Serialize(v, OneLine) : Show(v);
            if (v is List<object?> or Dictionary<string, object?>) entry["objectValue"] = v;
        }
        entry["secret"] = secret;
        return entry;
    }

    private static ConfigPath ParsePath(string key)
    {
        try { return ConfigPath.Parse(key); }
        catch (Deploy.Core.Model.DeployException e) { throw new UsageException(e.Message); }
    }

    private static string Show(object? v) => v switch
    {
        null => "",
        List<object?> l => "[" + string.Join(", ", l.Select(Show)) + "]",
        Dictionary<string, object?> d => "{" + string.Join(", ", d.Select(kv => $"{kv.Key}: {Show(kv.Value)}")) + "}",
        bool b => b ? "true" : "false",
        _ => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) ?? "",
    };
}
