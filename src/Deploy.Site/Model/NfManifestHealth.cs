using System.Collections.Immutable;
using Deploy.Resources.Health;
using Deploy.Site.Yaml;
using YamlDotNet.RepresentationModel;

namespace Deploy.Site.Model;

/// <summary>
/// The <c>health:</c> entries of an NF manifest: each is one kind of the registry (<see cref="HealthCheckKinds"/>) with its
/// arguments, an optional <c>when:</c> and <c>scope:</c> (host, the default, or site). The kind reads and checks its
/// arguments; errors name the manifest's line.
/// </summary>
public static class NfManifestHealth
{
    public static NfHealth Read(YamlFile yaml, YamlMappingNode entry, HealthCheckKinds kinds)
    {
        var declared = yaml.Entries(entry).Where(item => item.Key is not ("when" or "scope")).ToList();
        var scope = yaml.Str(entry, "scope") ?? "host";
        if (scope is not ("host" or "site"))
            throw yaml.Error(yaml.Get(entry, "scope"), "a health check's scope is host (the default) or site");
        if (declared.Count != 1) throw yaml.Error(entry, kinds.NotOneKind());
        var (name, nameNode, args) = declared[0];
        var kind = kinds.Find(name) ?? throw yaml.Error(nameNode, kinds.UnknownKind(name));
        var map = args as YamlMappingNode ?? throw yaml.Error(args, $"health check '{name}' needs a mapping of arguments");
        if (kind.ScopeProblem(scope == "site") is { } problem) throw yaml.Error(nameNode, problem);
        var flat = kind.ReadArguments((DeclaredMap)Declared(yaml, map), new DeclaredArgReader(yaml.DisplayPath));
        var when = yaml.Get(entry, "when") is { } whenNode ? new Templated(yaml.Scalar(whenNode, "when"), YamlFile.Line(whenNode)) : null;
        return new NfHealth(name, flat.ToImmutableSortedDictionary(arg => arg.Key, arg => new Templated(arg.Value.Text!, arg.Value.Line),
            StringComparer.Ordinal), when, scope == "site", YamlFile.Line(entry))
        { CallTest = kind.IsCallTest };
    }

    /// <summary>A YAML node as declared arguments, with its lines (keys must be single values, as everywhere).</summary>
    private static DeclaredArg Declared(YamlFile yaml, YamlNode node) => node switch
    {
        YamlMappingNode map => new DeclaredMap([.. yaml.Entries(map)
            .Select(item => new DeclaredEntry(item.Key, YamlFile.Line(item.KeyNode), Declared(yaml, item.Value)))], YamlFile.Line(map)),
        YamlSequenceNode list => new DeclaredList([.. list.Children.Select(child => Declared(yaml, child))], YamlFile.Line(list)),
        YamlScalarNode scalar => new DeclaredScalar(scalar.Value, YamlFile.Line(scalar)),
        _ => new DeclaredScalar(null, YamlFile.Line(node)),
    };
}
