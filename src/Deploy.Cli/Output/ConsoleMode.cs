using Spectre.Console;

namespace Deploy.Cli.Output;

/// <summary>
/// What the program's outputs are: terminals or not, colour wanted or not (<c>NO_COLOR</c>, no-color.org), a CI run
/// (<c>CI</c> set). A live display needs a terminal on both outputs and no CI; anything else gets plain lines.
/// </summary>
public sealed record ConsoleMode(bool StdoutTerminal, bool StderrTerminal, bool NoColor, bool Ci)
{
    /// <summary>Plain lines, no colour: what specs that run the verbs in-process get.</summary>
    public static readonly ConsoleMode Plain = new(false, false, true, false);

    public static ConsoleMode Detect()
    {
        static bool Redirected(bool error) => error ? System.Console.IsErrorRedirected : System.Console.IsOutputRedirected;
        static bool Set(string name) => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(name));
        var dumb = Environment.GetEnvironmentVariable("TERM") is null or "" or "dumb";
        return new ConsoleMode(!Redirected(false) && !dumb, !Redirected(true) && !dumb, Set("NO_COLOR"), Set("CI"));
    }

    /// <summary>A live table: both outputs are terminals (with --json only stderr, where the display then goes) and no CI.</summary>
    public bool Live(bool json) => !Ci && StderrTerminal && (json || StdoutTerminal);

    /// <summary>A Spectre console over <paramref name="writer"/>: ANSI and colour on a terminal (none under NO_COLOR),
    /// neither elsewhere, where its lines are as wide as their content (never wrapped at 80 columns).</summary>
    public IAnsiConsole Console(TextWriter writer, bool terminal)
    {
        var console = Spectre.Console.AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = terminal ? AnsiSupport.Yes : AnsiSupport.No,
            ColorSystem = terminal && !NoColor ? ColorSystemSupport.Standard : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Yes : InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        if (!terminal) console.Profile.Width = 4096;
        return console;
    }
}
