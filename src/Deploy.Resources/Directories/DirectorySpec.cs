using System.Collections.Immutable;
using Deploy.Core.Resources;

namespace Deploy.Resources;

public sealed record DirectorySpec(string Path, string User, string Group, string Mode) : ResourceSpec
{
    /// <summary>When no longer wanted, removed with its content (an instance's runtime or config dir); otherwise only
    /// when empty.</summary>
    public bool Purge { get; init; }

    public override string Type => ResourceTypes.Directory;
    public override ImmutableSortedDictionary<string, string> Identity => Ids.Of(("path", Path), ("purge", Purge ? "true" : null));
}
