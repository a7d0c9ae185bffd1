using System.Text.RegularExpressions;

namespace Deploy.Site.Model;

/// <summary>Names that become file names of the site (roles/&lt;role&gt;.yaml, nf/&lt;nf&gt;/, inventory/&lt;name&gt;.yaml):
/// no '/', no leading dot, so they always name a file of their folder.</summary>
public static partial class SiteNames
{
    public const string Shape = "letters, digits, '-', '_' and '.', not starting with '.', at most 100";

    [GeneratedRegex("^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$")]
    private static partial Regex Pattern();

    public static bool IsValid(string name) => Pattern().IsMatch(name);

    public static string Printable(string s) => Deploy.Core.Model.StackName.Printable(s);
}
