using System.Collections.Immutable;
using Deploy.Core.Resources;

namespace Deploy.Resources;

public sealed record HostnameSpec(string Hostname) : ResourceSpec
{
    public override string Type => ResourceTypes.Hostname;
    public override ImmutableSortedDictionary<string, string> Identity => Ids.Of(("hostname", "hostname"));
}
