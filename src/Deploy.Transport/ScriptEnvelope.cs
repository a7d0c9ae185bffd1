using System.Text;

namespace Deploy.Transport;

/// <summary>
/// How a script travels to <c>/bin/sh -s</c>. The script is wrapped in a brace group whose stdin is
/// <c>/dev/null</c> (<c>{ :; SCRIPT\n} &lt;/dev/null</c>), so that
/// <list type="bullet">
/// <item>the shell reads and parses the whole script before it runs any of it (a truncated transfer or a
/// syntax error runs nothing), and</item>
/// <item>a command in the script that reads its stdin (<c>cat</c>, <c>read</c>, <c>apt-get</c> asking a
/// question, ...) gets end-of-file instead of swallowing the rest of the script.</item>
/// </list>
/// </summary>
internal static class ScriptEnvelope
{
    public static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    public static string Wrap(string script)
    {
        ArgumentNullException.ThrowIfNull(script);
        var sb = new StringBuilder(script.Length + 32);
        // "{ :; " shares the script's first line, so line numbers in shell error messages stay right,
        // and ":" keeps the group valid when the script is empty or only comments.
        sb.Append("{ :; ").Append(script);
        if (script.Length == 0 || script[^1] != '\n')
            sb.Append('\n');
        sb.Append("} </dev/null\n");
        return sb.ToString();
    }

    /// <summary>The remote command line: never contains the script.</summary>
    public static string RemoteCommand(string user) =>
        user == "root" ? "/bin/sh -s" : "sudo -n /bin/sh -s";
}
