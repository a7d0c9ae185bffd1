using System.Text.RegularExpressions;

namespace Deploy.Core.Model;

/// <summary>A stack's name, as Pulumi allows it: letters, digits, '-', '_' and '.', not starting with a dot, at most 100.
/// It names files (<c>stacks/Pulumi.&lt;stack&gt;.yaml</c>, <c>.pulumi/…/&lt;stack&gt;.json</c>, the PKI folder), so every verb checks it.</summary>
public static partial class StackName
{
    [GeneratedRegex("^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$")]
    private static partial Regex Shape();

    public static bool IsValid(string? name) => name is not null && Shape().IsMatch(name);

    /// <summary>The name, or a clear error when it has another shape.</summary>
    public static string Check(string? name) => IsValid(name)
        ? name!
        : throw new DeployException($"'{Printable(name ?? "")}' is not a valid stack name (letters, digits, '-', '_' and '.', not starting with '.', at most 100)");

    /// <summary>A name as it may be shown in one line: control characters as \xNN.</summary>
    public static string Printable(string s) =>
        string.Concat(s.Select(c => char.IsControl(c) ? $"\\x{(int)c:x2}" : c.ToString()));
}
