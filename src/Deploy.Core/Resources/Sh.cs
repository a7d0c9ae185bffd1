namespace Deploy.Core.Resources;

/// <summary>POSIX shell quoting.</summary>
public static class Sh
{
    /// <summary>Single-quotes a word for sh: <c>it's</c> → <c>'it'\''s'</c>.</summary>
    public static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";

    /// <summary>Escapes a literal for use inside a sed /regex/ address.</summary>
    public static string SedEscape(string s) =>
        string.Concat(s.Select(c => c is '/' or '.' or '*' or '[' or ']' or '^' or '$' or '\\' ? "\\" + c : c.ToString()));
}
