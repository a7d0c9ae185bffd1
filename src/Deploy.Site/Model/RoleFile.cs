using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Site.Yaml;

namespace Deploy.Site.Model;

/// <summary><c>roles/&lt;role&gt;.yaml</c>: the network functions a host of this role runs, and role vars.</summary>
public sealed record RoleFile(string Name, string File, string Description, ImmutableArray<(string Nf, int Line)> Nfs, ImmutableSortedDictionary<string, object?> Vars)
{
    public static RoleFile Load(string projectDir, RoleRef reference)
    {
        var path = Path.Combine(projectDir, "roles", reference.Role + ".yaml");
        if (!System.IO.File.Exists(path))
            throw new SiteException(reference.File, reference.Line,
                $"unknown role '{reference.Role}' (roles/: {string.Join(", ", Known(projectDir))})");
        var y = YamlFile.Load(path, projectDir);
        y.AllowOnly(y.Root, "a role", "description", "nfs", "vars");
        var nfs = y.Seq(y.Root, "nfs")?.Children.Select(n => (y.Scalar(n, "an NF name"), YamlFile.Line(n))).ToImmutableArray()
            ?? throw y.Error(y.Root, "a role needs 'nfs:', the list of network functions it runs");
        var vars = y.Map(y.Root, "vars") is { } v
            ? y.Entries(v).ToImmutableSortedDictionary(e => e.Key, e => YamlFile.ToData(e.Value), StringComparer.Ordinal)
            : ImmutableSortedDictionary<string, object?>.Empty;
        return new RoleFile(reference.Role, y.DisplayPath, y.Str(y.Root, "description") ?? "", nfs, vars);
    }

    private static IEnumerable<string> Known(string projectDir) =>
        Directory.Exists(Path.Combine(projectDir, "roles"))
            ? Directory.GetFiles(Path.Combine(projectDir, "roles"), "*.yaml").Select(f => Path.GetFileNameWithoutExtension(f)!).Order()
            : [];
}
