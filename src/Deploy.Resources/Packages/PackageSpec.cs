using System.Collections.Immutable;
using Deploy.Core.Resources;

namespace Deploy.Resources;

public sealed record PackageSpec(string Package) : ResourceSpec
{
    /// <summary>Exact version wanted, or null for "installed, any version".</summary>
    public string? Version { get; init; }
    public override string Type => ResourceTypes.Package;
    public override ImmutableSortedDictionary<string, string> Identity => Ids.Of(("package", Package));
}
