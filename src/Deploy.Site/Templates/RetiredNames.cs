using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Site.Yaml;
using Scriban;
using Scriban.Syntax;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Deploy.Site.Templates;

/// <summary>
/// Spellings the template scope no longer has, each with the one that replaced it. A template file or a manifest string
/// that uses one is refused when the site is loaded (before any host is read), at its file:line, naming the
/// replacement, whether or not the line would ever be rendered.
/// </summary>
public static class RetiredNames
{
    /// <summary>Retired global names (functions, variables) and what to write instead.</summary>
    private static readonly ImmutableSortedDictionary<string, string> Globals =
        ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [
            new KeyValuePair<string, string>("nf_group",
                "'nf_group' is gone: a group's hosts are groups.<name>, or groups[vars.<var>] when a var names the group " +
                "(a group without hosts is empty)"),
        ]);

    /// <summary>Retired members (of a host object) and what to write instead.</summary>
    private static readonly ImmutableSortedDictionary<string, string> Members =
        ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [
            new KeyValuePair<string, string>("diameter_identity",
                "'diameter_identity' is gone: write host.identity (p.identity for another host), the name its NF declares " +
                "under identity: host: in its nf.yaml"),
        ]);

    /// <summary>The retired names a parsed template uses: the 1-based line in its text, and what to write instead.</summary>
    public static IEnumerable<(int Line, string Message)> Find(Template template) =>
        template.HasErrors ? [] : Walk(template.Page).OrderBy(hit => hit.Line);

    /// <summary>Every string of an NF manifest that holds a template, checked; the first retired name found is refused.</summary>
    public static void Check(YamlFile file)
    {
        foreach (var scalar in file.Root.AllNodes.OfType<YamlScalarNode>())
        {
            if (scalar.Value is not { } text || !text.Contains("{{", StringComparison.Ordinal)) continue;
            var hit = Find(Template.Parse(text)).FirstOrDefault();
            if (hit.Message is null) continue;
            // a block scalar's text starts on the line after its indicator
            var block = scalar.Style is ScalarStyle.Literal or ScalarStyle.Folded;
            throw new SiteException(file.DisplayPath, YamlFile.Line(scalar) + hit.Line - (block ? 0 : 1), hit.Message);
        }
    }

    private static IEnumerable<(int Line, string Message)> Walk(ScriptNode? node)
    {
        if (node is null) yield break;
        var message = node switch
        {
            ScriptVariableGlobal global => Globals.GetValueOrDefault(global.Name),
            ScriptMemberExpression { Member: { } member } => Members.GetValueOrDefault(member.Name),
            _ => null,
        };
        if (message is not null) yield return (node.Span.Start.Line + 1, message);
        for (var index = 0; index < node.ChildrenCount; index++)
            foreach (var hit in Walk(node.GetChildren(index)))
                yield return hit;
    }
}
