using System.Collections.Immutable;
using System.Globalization;
using Deploy.Core.Model;
using Deploy.Site.Yaml;
using YamlDotNet.RepresentationModel;

namespace Deploy.Site.Model;

/// <summary>A site setting declared in Pulumi.yaml's <c>config:</c> block.</summary>
public sealed record ConfigSetting(string Key, string Type, string Description, object? Default, bool Secret)
{
    /// <summary><c>placeholder: true</c>: the default only stands in for the site's own value (a domain such as
    /// example.net); a site of real machines that leaves it is warned.</summary>
    public bool Placeholder { get; init; }
}

/// <summary>Pulumi.yaml: the project's name, where stack files live and the settings a stack may set.</summary>
public sealed record ProjectFile(string Name, string Description, string StackConfigDir, ImmutableSortedDictionary<string, ConfigSetting> Settings)
{
    public const string FileName = "Pulumi.yaml";

    public static ProjectFile Load(string projectDir)
    {
        var y = YamlFile.Load(Path.Combine(projectDir, FileName), projectDir);
        var name = y.Required(y.Root, "name", "the project");
        var runtime = y.Str(y.Root, "runtime");
        if (runtime is not null and not "dotnet")
            throw y.Error(y.Get(y.Root, "runtime"), $"runtime must be 'dotnet' (nf-deploy is a .NET program), not '{runtime}'");
        var settings = ImmutableSortedDictionary.CreateBuilder<string, ConfigSetting>(StringComparer.Ordinal);
        if (y.Map(y.Root, "config") is { } config)
            foreach (var (rawKey, keyNode, value) in y.Entries(config))
            {
                var key = rawKey.StartsWith(name + ":", StringComparison.Ordinal) ? rawKey[(name.Length + 1)..] : rawKey;
                if (value is not YamlMappingNode m) throw y.Error(keyNode, $"setting '{key}' must be a mapping with type, description and default");
                var type = y.Str(m, "type") ?? "string";
                if (type is not ("string" or "integer" or "boolean" or "array" or "object"))
                    throw y.Error(m, $"setting '{key}': type must be string, integer, boolean, array or object");
                var def = y.Get(m, "default") is { } d ? YamlFile.ToData(d) : null;
                settings[key] = new ConfigSetting(key, type, y.Str(m, "description") ?? "", def, y.Str(m, "secret") == "true")
                {
                    Placeholder = y.Str(m, "placeholder") == "true",
                };
            }
        var stackDir = y.Str(y.Root, "stackConfigDir") ?? ".";
        if (Deploy.Core.Paths.ContainedPath.Resolve(projectDir, stackDir) is null)
            throw y.Error(y.Get(y.Root, "stackConfigDir"), $"stackConfigDir '{stackDir}' is outside the project");
        return new ProjectFile(name, y.Str(y.Root, "description") ?? "", stackDir, settings.ToImmutable());
    }

    /// <summary>Checks a value against a setting's type; returns the value converted, or an error message.</summary>
    public static (object? Value, string? Error) Coerce(ConfigSetting s, object? value)
    {
        switch (s.Type)
        {
            case "integer":
                if (value is long) return (value, null);
                if (value is string str && long.TryParse(str, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return (l, null);
                return (null, $"'{s.Key}' must be an integer, not '{value}'");
            case "boolean":
                if (value is bool) return (value, null);
                if (value is "true" or "false") return ((string)value == "true", null);
                return (null, $"'{s.Key}' must be true or false, not '{value}'");
            case "array":
                return value is List<object?> ? (value, null) : (null, $"'{s.Key}' must be a list");
            case "object":
                return value is Dictionary<string, object?> ? (value, null) : (null, $"'{s.Key}' must be a mapping");
            default:
                return value switch
                {
                    string => (value, null),
                    long or double or bool => (Convert.ToString(value, CultureInfo.InvariantCulture), null),
                    _ => (null, $"'{s.Key}' must be a string"),
                };
        }
    }
}
