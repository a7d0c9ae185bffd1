using System.Text;
using Scriban;
using Scriban.Parsing;

namespace Deploy.Site.Templates;

/// <summary>Renders an XML template (a SIPp scenario): the template's own text is written as is, every value a
/// <c>{{ }}</c> writes is XML-escaped (&lt; &gt; &amp; quotes, and line breaks as character references), so a value from a
/// site file is data: it can neither add markup nor close a CDATA section nor add a header line to a SIP message.</summary>
public sealed class XmlEscapingContext : TemplateContext
{
    public override TemplateContext Write(SourceSpan span, object? textAsObject) =>
        textAsObject is null ? this : Write(Escape(ObjectToString(textAsObject) ?? ""));

    public static string Escape(string value)
    {
        var b = new StringBuilder(value.Length);
        foreach (var c in value)
            b.Append(c switch
            {
                '<' => "&lt;",
                '>' => "&gt;",
                '&' => "&amp;",
                '"' => "&quot;",
                '\'' => "&apos;",
                '\r' => "&#13;",
                '\n' => "&#10;",
                _ => c.ToString(),
            });
        return b.ToString();
    }
}
