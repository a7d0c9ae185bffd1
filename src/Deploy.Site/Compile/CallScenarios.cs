using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Site.Model;
using Deploy.Site.Templates;
using Scriban.Runtime;

namespace Deploy.Site.Compile;

/// <summary>A call test's SIPp scenarios (<c>steps.NN.sipp</c>: a template of the NF) rendered for the host like any
/// template, values XML-escaped, into <c>steps.NN.xml</c>.</summary>
internal static class CallScenarios
{
    public static ImmutableSortedDictionary<string, string> Render(ImmutableSortedDictionary<string, string> args, TemplateEngine templates,
        NfManifest nf, ScriptObject scope, string host, int line)
    {
        var b = args.ToBuilder();
        foreach (var (key, name) in args.Where(a => a.Key.EndsWith(".sipp", StringComparison.Ordinal)))
        {
            // a scenario is a template of the site (nf/<nf>/templates/ or templates/), never a path elsewhere
            var roots = new[] { Path.Combine(templates.ProjectDir, "nf", nf.Name, "templates"), Path.Combine(templates.ProjectDir, "templates") }
                .Select(r => Path.GetFullPath(r) + Path.DirectorySeparatorChar);
            var full = Path.IsPathRooted(name) ? null : templates.Resolve(name, nf.Name);
            if (full is null || !roots.Any(r => Path.GetFullPath(full).StartsWith(r, StringComparison.Ordinal)))
                throw new SiteException(nf.File, line, $"call test scenario '{name}' is not a template of the site (nf/{nf.Name}/templates/ or templates/)", host);
            b[key[..^".sipp".Length] + ".xml"] = templates.RenderFile(full, scope, host, xml: true);
        }
        return b.ToImmutable();
    }
}
