using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Site.Yaml;
using YamlDotNet.RepresentationModel;

namespace Deploy.Site.Model;

/// <summary>An NF a role runs. With <see cref="InstancesVar"/>, the NF runs once per entry of that var (a map of
/// instance name → vars that overlay the host's vars), side by side on the host.</summary>
public sealed record RoleNf(string Nf, int Line, string? InstancesVar)
{
    public void Deconstruct(out string nf, out int line) => (nf, line) = (Nf, Line);
}

/// <summary><c>roles/&lt;role&gt;.yaml</c>: the network functions a host of this role runs, and role vars.</summary>
public sealed record RoleFile(string Name, string File, string Description, ImmutableArray<RoleNf> Nfs, ImmutableSortedDictionary<string, object?> Vars)
{
    /// <summary>Where each role var was set (for warnings about vars no NF declares).</summary>
    public ImmutableArray<VarSite> VarSites { get; init; } = [];

    public static RoleFile Load(string projectDir, RoleRef reference)
    {
        if (!SiteNames.IsValid(reference.Role))
            throw new SiteException(reference.File, reference.Line, $"'{SiteNames.Printable(reference.Role)}' is not a valid role name ({SiteNames.Shape})");
        var path = Path.Combine(projectDir, "roles", reference.Role + ".yaml");
        if (!System.IO.File.Exists(path))
            throw new SiteException(reference.File, reference.Line,
                $"unknown role '{reference.Role}' (roles/: {string.Join(", ", Known(projectDir))})");
        var y = YamlFile.Load(path, projectDir);
        y.AllowOnly(y.Root, "a role", "description", "nfs", "vars");
        var nfs = y.Seq(y.Root, "nfs")?.Children.Select(n =>
            {
                if (n is not YamlMappingNode m) return new RoleNf(y.Scalar(n, "an NF name"), YamlFile.Line(n), null);
                // - { nf: kamailio-instance, instances: ims_instances }: one placement per entry of the var
                y.AllowOnly(m, "an NF of a role", "nf", "instances");
                return new RoleNf(y.Required(m, "nf", "an NF of a role"), YamlFile.Line(m), y.Str(m, "instances"));
            }).ToImmutableArray()
            ?? throw y.Error(y.Root, "a role needs 'nfs:', the list of network functions it runs");
        var vars = y.Map(y.Root, "vars") is { } v
            ? y.Entries(v).ToImmutableSortedDictionary(e => e.Key, e => y.Data(e.Value), StringComparer.Ordinal)
            : ImmutableSortedDictionary<string, object?>.Empty;
        return new RoleFile(reference.Role, y.DisplayPath, y.Str(y.Root, "description") ?? "", nfs, vars) { VarSites = Inventory.VarSitesOf(y, y.Root) };
    }

    private static IEnumerable<string> Known(string projectDir) =>
        Directory.Exists(Path.Combine(projectDir, "roles"))
            ? Directory.GetFiles(Path.Combine(projectDir, "roles"), "*.yaml").Select(f => Path.GetFileNameWithoutExtension(f)!).Order()
            : [];
}
