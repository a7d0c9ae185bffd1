using System.Globalization;
using Deploy.Site.Yaml;
using YamlDotNet.RepresentationModel;

namespace Deploy.Site.Model;

/// <summary>
/// The <c>ssh:</c> keys of the inventory (top level, a host's), each null when not written: the inventory's values win
/// over <c>~/.ssh/config</c>, which fills only what the inventory leaves unset.
/// </summary>
/// <param name="KeyPassphraseEnv">The environment variable holding the key's passphrase (read at connect time).</param>
/// <param name="KeyPassphraseFile">The file holding the key's passphrase (read at connect time).</param>
/// <param name="Agent">False: do not offer the ssh-agent's keys even when <c>SSH_AUTH_SOCK</c> is set.</param>
public sealed record SshSettings(
    string? User = null,
    string? Key = null,
    int? Port = null,
    string? Jump = null,
    string? KeyPassphraseEnv = null,
    string? KeyPassphraseFile = null,
    TimeSpan? ConnectTimeout = null,
    int? ConnectAttempts = null,
    bool? Agent = null)
{
    public static readonly SshSettings None = new();

    /// <summary>The keys an <c>ssh:</c> mapping may have.</summary>
    private static readonly string[] Keys =
        ["user", "key", "port", "jump", "key_passphrase_env", "key_passphrase_file", "connect_timeout", "connect_attempts", "agent"];

    /// <summary>This host's values where set, else <paramref name="defaults"/>' (the top-level <c>ssh:</c>).</summary>
    public SshSettings Over(SshSettings defaults) => new(
        User ?? defaults.User, Key ?? defaults.Key, Port ?? defaults.Port, Jump ?? defaults.Jump,
        KeyPassphraseEnv ?? (KeyPassphraseFile is null ? defaults.KeyPassphraseEnv : null),
        KeyPassphraseFile ?? (KeyPassphraseEnv is null ? defaults.KeyPassphraseFile : null),
        ConnectTimeout ?? defaults.ConnectTimeout, ConnectAttempts ?? defaults.ConnectAttempts, Agent ?? defaults.Agent);

    /// <summary>Reads an <c>ssh:</c> mapping (null: none); refuses unknown keys and malformed values with file:line.</summary>
    public static SshSettings Parse(YamlFile y, YamlMappingNode? ssh, string what)
    {
        if (ssh is null) return None;
        if (y.Get(ssh, "key_passphrase") is { } plain)
            throw y.Error(plain, $"{what}: ssh: a key's passphrase is never written in a site file: name where it is with " +
                "key_passphrase_env (an environment variable) or key_passphrase_file (a file outside the project)");
        y.AllowOnly(ssh, $"{what} ssh", Keys);
        var env = y.Str(ssh, "key_passphrase_env");
        if (env is not null && !IsVariableName(env))
            throw y.Error(y.Get(ssh, "key_passphrase_env"),
                $"{what}: ssh: key_passphrase_env must name an environment variable (letters, digits, _), not '{env}'");
        var file = y.Str(ssh, "key_passphrase_file");
        if (env is not null && file is not null)
            throw y.Error(ssh, $"{what}: ssh: key_passphrase_env and key_passphrase_file are both set; choose one");
        return new SshSettings(y.Str(ssh, "user"), y.Str(ssh, "key"), Int(y, ssh, "port", what, 1, 65535), y.Str(ssh, "jump"),
            env, file, Timeout(y, ssh, what), Int(y, ssh, "connect_attempts", what, 1, 100), Bool(y, ssh, "agent", what));
    }

    private static bool IsVariableName(string name) =>
        name.Length > 0 && !char.IsAsciiDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    private static int? Int(YamlFile y, YamlMappingNode ssh, string key, string what, int min, int max)
    {
        if (y.Str(ssh, key) is not { } text) return null;
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw y.Error(y.Get(ssh, key), $"{what}: ssh {key} must be a whole number from {min} to {max}, not '{text}'");
    }

    private static bool? Bool(YamlFile y, YamlMappingNode ssh, string key, string what) => y.Str(ssh, key) switch
    {
        null => null,
        "true" => true,
        "false" => false,
        var other => throw y.Error(y.Get(ssh, key), $"{what}: ssh {key} must be true or false, not '{other}'"),
    };

    /// <summary><c>connect_timeout</c>: seconds, as <c>10</c>, <c>2.5</c>, <c>10s</c> or <c>500ms</c>; from 0.1 s to 10 min.</summary>
    private static TimeSpan? Timeout(YamlFile y, YamlMappingNode ssh, string what)
    {
        if (y.Str(ssh, "connect_timeout") is not { } text) return null;
        var (number, scale) = text.EndsWith("ms", StringComparison.Ordinal) ? (text[..^2], 0.001)
            : text.EndsWith('s') ? (text[..^1], 1.0) : (text, 1.0);
        if (double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value)
            && value * scale is >= 0.1 and <= 600)
            return TimeSpan.FromSeconds(value * scale);
        throw y.Error(y.Get(ssh, "connect_timeout"), $"{what}: ssh connect_timeout must be a time from 0.1 s to 600 s " +
            $"(e.g. 10, 10s or 500ms), not '{text}'");
    }
}
