// A health check's arguments as written in a site file, before rendering: what a kind reads and checks when the site is
// compiled. The site loader turns its YAML into this tree (with lines), so a kind needs no YAML library.
using System.Collections.Immutable;
using Deploy.Core.Model;

namespace Deploy.Resources.Health;

/// <summary>A node of declared arguments: a scalar, a mapping or a list, with the line it starts on.</summary>
public abstract record DeclaredArg(int Line);

/// <summary>A single value (<c>null</c> only for a YAML value that has none).</summary>
public sealed record DeclaredScalar(string? Text, int Line) : DeclaredArg(Line);

public sealed record DeclaredList(ImmutableArray<DeclaredArg> Items, int Line) : DeclaredArg(Line);

/// <summary>A key of a mapping, the line of the key itself, and its value.</summary>
public sealed record DeclaredEntry(string Key, int KeyLine, DeclaredArg Value);

public sealed record DeclaredMap(ImmutableArray<DeclaredEntry> Entries, int Line) : DeclaredArg(Line)
{
    public DeclaredArg? Get(string key) => Entries.FirstOrDefault(entry => entry.Key == key)?.Value;
}

/// <summary>Reads declared arguments of one site file; every error it makes names that file and the node's line.</summary>
/// <param name="File">The site file as shown in errors (<c>nf/kamailio/nf.yaml</c>).</param>
public sealed record DeclaredArgReader(string File)
{
    public SiteException Error(DeclaredArg? node, string message) => new(File, node?.Line ?? 0, message);

    /// <summary>A single value, or "<paramref name="what"/> must be a single value".</summary>
    public DeclaredScalar Scalar(DeclaredArg node, string what) =>
        node is DeclaredScalar { Text: not null } scalar ? scalar : throw Error(node, $"{what} must be a single value");

    /// <summary>The list under <paramref name="key"/>; null when absent or empty (<c>~</c>, nothing).</summary>
    public DeclaredList? List(DeclaredMap map, string key) => map.Get(key) switch
    {
        null => null,
        DeclaredList list => list,
        DeclaredScalar { Text: null or "" or "~" } => null,
        var other => throw Error(other, $"'{key}' must be a list"),
    };

    /// <summary>The text under <paramref name="key"/>; null when absent.</summary>
    public string? Text(DeclaredMap map, string key) => map.Get(key) switch
    {
        null => null,
        DeclaredScalar scalar => scalar.Text,
        var other => throw Error(other, $"'{key}' must be a single value"),
    };

    /// <summary>Refuses a key not among <paramref name="keys"/>, at the key's line.</summary>
    public void AllowOnly(DeclaredMap map, string what, params string[] keys)
    {
        foreach (var entry in map.Entries.Where(entry => !keys.Contains(entry.Key)))
            throw new SiteException(File, entry.KeyLine,
                $"unknown key '{entry.Key}' in {what} (expected one of: {string.Join(", ", keys)})");
    }
}
