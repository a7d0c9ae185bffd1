using Spectre.Console;

namespace Deploy.Cli;

// The preview in colour (Spectre.Console): only on a terminal, never with NO_COLOR set (https://no-color.org) or
// TERM=dumb; otherwise the plain text, byte for byte.
public static partial class PlanPrinter
{
    /// <summary>Colour is wanted: the output is a terminal, NO_COLOR and CI are unset or empty, TERM is not dumb.</summary>
    public static bool ColourWanted(bool outputRedirected) =>
        !outputRedirected && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"))
        && Environment.GetEnvironmentVariable("TERM") != "dumb" && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"));

    /// <summary>Writes the lines, each passed through <paramref name="redact"/> first; in colour when asked.</summary>
    public static void Write(TextWriter output, IEnumerable<PlanLine> lines, bool colour, Func<string, string> redact,
        ColorSystemSupport colours = ColorSystemSupport.Detect)
    {
        if (!colour)
        {
            output.Write(string.Concat(lines.Select(l => redact(l.Text) + "\n")));
            return;
        }
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.Yes,
            ColorSystem = colours,
            Out = new AnsiConsoleOutput(output),
        });
        console.Profile.Width = 100_000; // a diff line is never wrapped: the terminal shows it as it is
        foreach (var line in lines)
        {
            console.Write(new Text(redact(line.Text), StyleOf(line.Kind)));
            console.WriteLine();
        }
    }

    private static Style StyleOf(LineKind kind) => kind switch
    {
        LineKind.Group => new Style(decoration: Decoration.Bold),
        LineKind.Section => new Style(Color.Blue),
        LineKind.Hosts => new Style(Color.Grey),
        LineKind.Create or LineKind.DiffAdded => new Style(Color.Green),
        LineKind.Update => new Style(Color.Yellow),
        LineKind.Replace => new Style(Color.Fuchsia),
        LineKind.Delete or LineKind.DiffRemoved or LineKind.Error => new Style(Color.Red),
        LineKind.DiffHunk => new Style(Color.Aqua),
        LineKind.DiffHeader => new Style(decoration: Decoration.Bold),
        _ => Style.Plain,
    };
}
