using System.Collections.Immutable;
using Deploy.Site.Yaml;
using YamlDotNet.RepresentationModel;

namespace Deploy.Site.Model;

/// <summary>What a lab host needs beyond the lab's defaults: host devices passed in and Linux capabilities added
/// (an Open5GS UPF creates its TUN device: <c>lab: { devices: [/dev/net/tun], capabilities: [NET_ADMIN] }</c>).
/// Only a short list is accepted, so a site file cannot hand a lab container the controller.</summary>
public sealed record LabHostOptions(ImmutableArray<string> Devices, ImmutableArray<string> Capabilities)
{
    public static readonly LabHostOptions None = new([], []);

    private static readonly string[] AllowedDevices = ["/dev/net/tun"];
    private static readonly string[] AllowedCapabilities = ["NET_ADMIN", "NET_RAW", "SYS_NICE", "IPC_LOCK"];

    /// <summary>A host's or counted group's <c>lab:</c>: <c>true</c>/<c>yes</c>, or a mapping (a lab host with options).
    /// Returns null when the node does not make a lab host.</summary>
    public static LabHostOptions? Parse(YamlFile y, YamlMappingNode owner)
    {
        switch (y.Get(owner, "lab"))
        {
            case null: return null;
            case YamlScalarNode s: return s.Value is "true" or "yes" ? None : null;
            case YamlMappingNode m:
                y.AllowOnly(m, "lab", "init", "devices", "capabilities");
                return new LabHostOptions(List(y, m, "devices", AllowedDevices), List(y, m, "capabilities", AllowedCapabilities));
            case var n: throw y.Error(n, "'lab' must be true or a mapping (devices, capabilities)");
        }
    }

    private static ImmutableArray<string> List(YamlFile y, YamlMappingNode m, string key, string[] allowed)
    {
        var result = ImmutableArray.CreateBuilder<string>();
        foreach (var n in y.Seq(m, key)?.Children ?? [])
        {
            var v = y.Scalar(n, $"an entry of lab {key}");
            if (!allowed.Contains(v, StringComparer.Ordinal))
                throw y.Error(n, $"lab {key}: '{v}' is not allowed for a lab host (allowed: {string.Join(", ", allowed)})");
            if (!result.Contains(v)) result.Add(v);
        }
        return result.ToImmutable();
    }
}
