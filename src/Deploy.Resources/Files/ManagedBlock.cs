using Deploy.Core.Resources;

namespace Deploy.Resources;

/// <summary>A block of a file that nf-deploy manages inside a file it does not own (Ansible's blockinfile): the lines
/// between two marker lines that carry the block's name. The one place that spells the markers.</summary>
public static class ManagedBlock
{
    public static string Begin(string name) => $"# BEGIN nf-deploy {name}";

    public static string End(string name) => $"# END nf-deploy {name}";

    /// <summary>The block with its markers, as it appears in the file.</summary>
    public static string Text(string name, string content) => $"{Begin(name)}\n{content.TrimEnd('\n')}\n{End(name)}\n";

    /// <summary>The sed program, quoted for sh, that prints the block with its marker lines.</summary>
    public static string SedRange(string name)
    {
        Shapes.Ensure(name, Shapes.NoControl(name, "block name"));
        return Sh.Quote($"/^{Sh.SedEscape(Begin(name))}$/,/^{Sh.SedEscape(End(name))}$/p");
    }

    /// <summary>An awk program that prints the file without the block (the markers given as quoted variables).</summary>
    public static string AwkWithout(string name) =>
        $"awk -v b={Sh.Quote(Begin(name))} -v e={Sh.Quote(End(name))} '$0==b{{skip=1;next}} $0==e{{skip=0;next}} !skip{{print}}'";
}
