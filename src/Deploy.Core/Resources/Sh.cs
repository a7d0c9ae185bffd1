namespace Deploy.Core.Resources;

/// <summary>POSIX shell quoting.</summary>
public static class Sh
{
    /// <summary>Single-quotes a word for sh: <c>it's</c> → <c>'it'\''s'</c>.</summary>
    public static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";

    /// <summary>The sed program, quoted for sh, that prints a managed block of a file with its marker lines.</summary>
    public static string BlockRange(string block)
    {
        Shapes.Ensure(block, Shapes.NoControl(block, "block name"));
        return Quote($"/^# BEGIN nf-deploy {SedEscape(block)}$/,/^# END nf-deploy {SedEscape(block)}$/p");
    }

    /// <summary>Escapes a literal for use inside a sed /regex/ address.</summary>
    public static string SedEscape(string s) =>
        string.Concat(s.Select(c => c is '/' or '.' or '*' or '[' or ']' or '^' or '$' or '\\' ? "\\" + c : c.ToString()));
}
