using Spectre.Console;

namespace Deploy.Cli.Output;

/// <summary>Columns as Spectre.Console tables: borderless, a bold header, two spaces between columns. On a terminal
/// they fit its width and may be coloured; elsewhere each row is one line, without trailing blanks (for grep and diff).</summary>
public static class Tables
{
    public static Table New(params string[] headers)
    {
        var table = new Table().Border(TableBorder.None);
        foreach (var h in headers) table.AddColumn(new TableColumn($"[bold]{Markup.Escape(h)}[/]").PadLeft(0).PadRight(2));
        table.Columns[0].NoWrap(); // names never wrap: the other columns give way on a narrow terminal
        return table;
    }

    /// <summary>A cell: the text escaped, in a colour when given (which NO_COLOR and non-terminals drop).</summary>
    public static Markup Cell(string text, string? colour = null) =>
        new(colour is null ? Markup.Escape(text) : $"[{colour}]{Markup.Escape(text)}[/]");

    public static void Write(TextWriter writer, bool terminal, ConsoleMode mode, Table table)
    {
        if (terminal)
        {
            mode.Console(writer, terminal: true).Write(table);
            return;
        }
        var buffer = new StringWriter();
        mode.Console(buffer, terminal: false).Write(table);
        foreach (var line in buffer.ToString().Split('\n'))
            if (line.TrimEnd() is { Length: > 0 } text) writer.WriteLine(text);
    }
}
