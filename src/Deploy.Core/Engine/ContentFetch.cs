using Deploy.Core.Resources;

namespace Deploy.Core.Engine;

/// <summary>The part of preview's second round trip that fetches a changed file's live content (for its diff): the
/// resource's URN as a quoted marker line, then the content (or the managed block) as one base64 line. Every value from
/// the site (the URN, the path, the block name) is a quoted word: none can become code.</summary>
public static class ContentFetch
{
    public static string Script(string urn, FileSpec f)
    {
        Shapes.Ensure(urn, Shapes.NoControl(urn, "resource URN"));
        var marker = $"echo {Sh.Quote("##nfd:r " + urn)}\n";
        return marker + (f.Block is null
            ? $"base64 -w0 < {Sh.Quote(f.Path)}; echo\n"
            : $"sed -n {Sh.BlockRange(f.Block)} {Sh.Quote(f.Path)} | base64 -w0; echo\n");
    }
}
