using AwesomeAssertions;
using Deploy.Core.Resources;
using Deploy.Resources;
using YamlDotNet.RepresentationModel;

namespace Deploy.Tests;

/// <summary>The rendered Open5GS YAML uses only keys that version of Open5GS reads, and has the ones it cannot start
/// without. The key lists (tests/open5gs-standin/keys) name the sources they are derived from: pgw-1.x from 1.x
/// src/pgw/pgw-context.c, smf-2.6/upf-2.6 from v2.6.6 src/smf|upf/context.c, lib/pfcp/context.c, lib/gtp/context.c,
/// smf-2.7/upf-2.7 from v2.7.7 (the same files plus lib/app/ogs-init.c's logger: file: path:).</summary>
public sealed class Open5gsKeySpecs
{
    private static IEnumerable<string> Paths(YamlNode node, string prefix)
    {
        switch (node)
        {
            case YamlMappingNode m:
                foreach (var (k, v) in m.Children)
                {
                    var path = prefix.Length == 0 ? ((YamlScalarNode)k).Value! : $"{prefix}.{((YamlScalarNode)k).Value}";
                    var below = Paths(v, path).ToList();
                    if (below.Count == 0) yield return path;
                    foreach (var p in below) yield return p;
                }
                break;
            case YamlSequenceNode s:
                foreach (var item in s.Children)
                {
                    var below = Paths(item, prefix).ToList();
                    if (below.Count == 0) yield return prefix;
                    foreach (var p in below) yield return p;
                }
                break;
            case YamlScalarNode { Value: null or "" } when prefix.Length > 0:
                yield return prefix;
                break;
        }
    }

    private static (HashSet<string> Allowed, HashSet<string> Wildcards, List<string> Required) KeyList(string name)
    {
        var file = Path.Combine(SiteFixture.RepoRoot, "tests", "open5gs-standin", "keys", name + ".txt");
        var lines = File.ReadAllLines(file).Select(l => l.Split('#')[0].Trim()).Where(l => l.Length > 0).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        string Norm(string p) => p.Replace("[]", "");
        var allowed = lines.Select(l => Norm(l[0])).Where(p => !p.EndsWith(".*", StringComparison.Ordinal)).ToHashSet();
        foreach (var p in allowed.ToList())
            for (var i = p.IndexOf('.'); i > 0; i = p.IndexOf('.', i + 1)) allowed.Add(p[..i]); // parents are implied
        var wildcards = lines.Select(l => Norm(l[0])).Where(p => p.EndsWith(".*", StringComparison.Ordinal)).Select(p => p[..^2]).ToHashSet();
        var required = lines.Where(l => l.Skip(1).Contains("required")).Select(l => Norm(l[0])).ToList();
        return (allowed, wildcards, required);
    }

    [Theory]
    [InlineData("1.2", "pgw-1.2", "/etc/open5gs/pgw.yaml")]
    [InlineData("1.3", "pgw-1.3", "/etc/open5gs/pgw.yaml")]
    [InlineData("2.6", "smf-2.6", "/etc/open5gs/smf.yaml")]
    [InlineData("2.6", "upf-2.6", "/etc/open5gs/upf.yaml")]
    [InlineData("2.7", "smf-2.7", "/etc/open5gs/smf.yaml")]
    [InlineData("2.7", "upf-2.7", "/etc/open5gs/upf.yaml")]
    public async Task The_rendered_config_uses_only_keys_that_open5gs_version_reads(string version, string keys, string path)
    {
        using var site = SiteFixture.FromRepo();
        site.Write("stacks/Pulumi.lab.yaml", site.Read("stacks/Pulumi.lab.yaml").Replace("open5gsVersion: \"2.7\"", $"open5gsVersion: \"{version}\"")
            + "  nf-deploy:pcscfAddresses: [192.0.2.10]\n");
        var yaml = (await site.RenderAsync())["pgw-1"].Resources.OfType<FileSpec>().Single(f => f.Path == path).Content;
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var paths = Paths(stream.Documents[0].RootNode, "").Distinct().ToList();
        var (allowed, wildcards, required) = KeyList(keys);

        paths.Where(p => !allowed.Contains(p) && !wildcards.Any(w => p == w || p.StartsWith(w + ".", StringComparison.Ordinal)))
            .Should().BeEmpty($"Open5GS {version} reads only the keys of {keys}.txt");
        foreach (var r in required)
            paths.Should().Contain(p => p == r || p.StartsWith(r + ".", StringComparison.Ordinal), $"Open5GS {version} does not start without {r}");
    }
}
