using System.Collections;
using System.Collections.Concurrent;
using Deploy.Core.Model;
using Scriban;
using Scriban.Parsing;
using Scriban.Runtime;
using Scriban.Syntax;

namespace Deploy.Site.Templates;

/// <summary>
/// Strict Scriban rendering: an undefined variable or member, a missing include, a parse or runtime error fails
/// with the template's file:line and the host it was rendered for. Parsed templates are cached.
/// Template names resolve against the NF's own <c>templates/</c> folder first, then the site's <c>templates/</c>.
/// </summary>
public sealed class TemplateEngine(string projectDir)
{
    private readonly ConcurrentDictionary<string, Template> _parsed = new();

    public string ProjectDir { get; } = projectDir;

    /// <summary>Finds a template file: <c>nf/&lt;nf&gt;/templates/NAME</c>, then <c>templates/NAME</c>. A name that leads
    /// out of those folders (absolute, <c>..</c>, a link pointing elsewhere) is not found: templates render nothing else.</summary>
    public string? Resolve(string name, string? nf)
    {
        if (Path.IsPathRooted(name) || name.Contains('\0')) return null;
        var roots = new List<string>();
        if (nf is not null) roots.Add(Path.Combine(ProjectDir, "nf", nf, "templates"));
        roots.Add(Path.Combine(ProjectDir, "templates"));
        return roots.Select(r => Deploy.Core.Paths.ContainedPath.Resolve(r, name)).FirstOrDefault(p => p is not null && File.Exists(p));
    }

    /// <summary>Whether a file is inside one of the template folders (templates/, nf/*/templates/), links resolved.</summary>
    private bool InTemplateRoots(string fullPath)
    {
        var real = Deploy.Core.Paths.ContainedPath.RealPath(Path.GetFullPath(fullPath));
        if (real is null) return false;
        var roots = new[] { Path.Combine(ProjectDir, "templates") }
            .Concat(NfTemplateDirs());
        return roots.Select(r => Deploy.Core.Paths.ContainedPath.RealPath(Path.GetFullPath(r)))
            .Any(r => r is not null && Deploy.Core.Paths.ContainedPath.IsWithin(r, real));
    }

    /// <summary>The <c>templates/</c> folder of every NF (nf/*/templates), whether it exists or not.</summary>
    private IEnumerable<string> NfTemplateDirs() =>
        Directory.Exists(Path.Combine(ProjectDir, "nf"))
            ? Directory.GetDirectories(Path.Combine(ProjectDir, "nf")).Select(d => Path.Combine(d, "templates"))
            : [];

    /// <summary>Parses every template file of the site (templates/ and nf/*/templates/): syntax errors are found when the
    /// site is loaded, before any host is read, with their file:line.</summary>
    public IReadOnlyList<SiteException> CheckSyntax()
    {
        var dirs = new[] { Path.Combine(ProjectDir, "templates") }
            .Concat(NfTemplateDirs())
            .Where(Directory.Exists);
        var errors = new List<SiteException>();
        var files = dirs.SelectMany(d => Directory.EnumerateFiles(d, "*.sbn", SearchOption.AllDirectories)).Order(StringComparer.Ordinal);
        foreach (var file in files)
        {
            if (!InTemplateRoots(file))
            {
                // not even parsed: a parse error would show pieces of the file it leads to
                errors.Add(new SiteException(Path.GetRelativePath(ProjectDir, file), 0,
                    "the template is a link that leads outside the template folders: refused"));
                continue;
            }
            var template = _parsed.GetOrAdd(file, p => Template.Parse(File.ReadAllText(p), p));
            var display = Path.GetRelativePath(ProjectDir, file);
            if (template.HasErrors && template.Messages.FirstOrDefault(x => x.Type == ParserMessageType.Error) is { } m)
                errors.Add(new SiteException(display, m.Span.Start.Line + 1, "template error: " + m.Message));
            errors.AddRange(RetiredNames.Find(template).Select(hit => new SiteException(display, hit.Line, hit.Message)));
        }
        return errors;
    }

    /// <param name="xml">Every value the template writes is XML-escaped (a SIPp scenario): a site value cannot add markup.</param>
    public string RenderFile(string fullPath, ScriptObject globals, string? host, bool xml = false)
    {
        var display = Path.GetRelativePath(ProjectDir, fullPath);
        var template = _parsed.GetOrAdd(fullPath, p => Template.Parse(File.ReadAllText(p), p));
        return Render(template, display, globals, host, xml);
    }

    public string RenderInline(string text, ScriptObject globals, string file, int line, string? host)
    {
        if (!text.Contains("{{", StringComparison.Ordinal)) return text;
        var key = $"inline:{file}:{line}:{text}";
        var template = _parsed.GetOrAdd(key, _ => Template.Parse(text, file));
        try { return Render(template, file, globals, host); }
        catch (SiteException e) { throw new SiteException(file, line, e.Reason, host); }
    }

    private string Render(Template template, string display, ScriptObject globals, string? host, bool xml = false)
    {
        if (template.HasErrors)
        {
            var m = template.Messages.First(x => x.Type == ParserMessageType.Error);
            throw new SiteException(display, m.Span.Start.Line + 1, "template error: " + m.Message, host);
        }
        var ctx = xml ? new XmlEscapingContext() : new TemplateContext();
        ctx.StrictVariables = true;
        ctx.EnableRelaxedMemberAccess = false;
        ctx.MemberRenamer = m => m.Name;
        ctx.TemplateLoader = new Loader(this);
        ctx.LoopLimit = 100_000;
        // no output is ever cut: Scriban's default cuts a string over 1 MiB and appends "..."
        ctx.LimitToString = 0;
        ctx.PushGlobal(Filters);
        ctx.PushGlobal(globals);
        try
        {
            return template.Render(ctx);
        }
        catch (ScriptRuntimeException e)
        {
            var file = e.Span.FileName is { Length: > 0 } f && Path.IsPathRooted(f) ? Path.GetRelativePath(ProjectDir, f) : display;
            var msg = e.OriginalMessage;
            if (e.InnerException is TemplateFunctionException tf) msg = tf.Message;
            throw new SiteException(file, e.Span.Start.Line + 1, msg, host);
        }
        catch (TemplateFunctionException e)
        {
            throw new SiteException(display, 0, e.Message, host);
        }
    }

    /// <summary>The functions every template and manifest string has besides Scriban's: <c>sh</c> (a value as one quoted
    /// word for sh), <c>url_escape</c> (a value inside a URL whose reader percent-decodes it) and <c>dq_escape</c> (a
    /// value inside a double-quoted string of a config file: backslash and quote escaped, as Kamailio's cfg reads them).
    /// A control character is refused by each, with the template's line.</summary>
    private static readonly ScriptObject Filters = MakeFilters();

    private static ScriptObject MakeFilters()
    {
        var o = new ScriptObject();
        o.Import("sh", new Func<object?, string>(v => ShellWord(Text(v))));
        o.Import("url_escape", new Func<object?, string>(v => Uri.EscapeDataString(Checked(Text(v), "url_escape"))));
        o.Import("dq_escape", new Func<object?, string>(v => Checked(Text(v), "dq_escape")
            .Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)));
        return o;
    }

    private static string Text(object? v) => v switch
    {
        null => "",
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };

    /// <summary>A value as one sh word; a control character (newline, NUL...) is refused where a value meets a script.</summary>
    public static string ShellWord(string s) => Deploy.Core.Resources.Sh.Quote(Checked(s, "sh"));

    /// <summary>The value, or an error that does not show it (it may be a secret).</summary>
    private static string Checked(string s, string filter) =>
        s.AsSpan().IndexOfAnyInRange('\0', '\x1f') is var i and >= 0 || (i = s.IndexOf('\x7f', StringComparison.Ordinal)) >= 0
            ? throw new TemplateFunctionException($"{filter}: the value holds a control character (U+{(int)s[i]:X4}) at " +
                $"character {i + 1}; a value that meets a script or a config string may not")
            : s;

    /// <summary>Plain data (dictionaries, lists, scalars) as Scriban objects.</summary>
    public static object? ToScript(object? value) => value switch
    {
        null => null,
        ScriptObject or ScriptArray => value,
        string or bool or long or int or double => value,
        IDictionary<string, object?> d => FromDictionary(d),
        IEnumerable e when value is not string => new ScriptArray(e.Cast<object?>().Select(ToScript)),
        _ => value.ToString(),
    };

    public static ScriptObject FromDictionary(IEnumerable<KeyValuePair<string, object?>> d)
    {
        var o = new ScriptObject();
        foreach (var (k, v) in d) o[k] = ToScript(v);
        return o;
    }

    private sealed class Loader(TemplateEngine engine) : ITemplateLoader
    {
        public string GetPath(TemplateContext context, SourceSpan callerSpan, string templateName)
        {
            // includes are relative to the including file's folder, then to the template roots
            // and never leave the template folders (templates/, nf/*/templates/), links resolved
            var dir = Path.GetDirectoryName(callerSpan.FileName);
            if (dir is not null && Path.IsPathRooted(dir) && !Path.IsPathRooted(templateName)
                && File.Exists(Path.Combine(dir, templateName)))
            {
                if (engine.InTemplateRoots(Path.Combine(dir, templateName))) return Path.Combine(dir, templateName);
                throw new ScriptRuntimeException(callerSpan,
                    $"include '{templateName}' is outside the template folders (templates/ and nf/*/templates/)");
            }
            if (Path.IsPathRooted(templateName))
                throw new ScriptRuntimeException(callerSpan,
                    $"include '{templateName}' is outside the template folders (templates/ and nf/*/templates/)");
            return engine.Resolve(templateName, null)
                ?? throw new ScriptRuntimeException(callerSpan,
                    $"include '{templateName}' not found (looked in templates/ and next to the including file)");
        }

        public string? Load(TemplateContext context, SourceSpan callerSpan, string templatePath) => File.ReadAllText(templatePath);

        public ValueTask<string?> LoadAsync(TemplateContext context, SourceSpan callerSpan, string templatePath) =>
            ValueTask.FromResult<string?>(File.ReadAllText(templatePath));
    }
}

/// <summary>Raised by the functions templates may call (e.g. <c>ipv4 "eth1"</c> on a host without eth1).</summary>
public sealed class TemplateFunctionException(string message) : Exception(message);
