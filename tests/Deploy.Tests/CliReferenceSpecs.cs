using System.Text.RegularExpressions;
using AwesomeAssertions;

namespace Deploy.Tests;

/// <summary>The README's "CLI reference" cannot drift from the program: every verb and subcommand that
/// <c>./deploy --help</c> lists (walked down the tree) has its row, with its arguments, exactly its options and its
/// description, and the global options are named once above the table.</summary>
public sealed partial class CliReferenceSpecs
{
    /// <summary>A verb as its <c>--help</c> tells it.</summary>
    private sealed record Verb(string Path, string Description, IReadOnlyList<string> Arguments, IReadOnlyList<string> Options, IReadOnlyList<string> Commands);

    /// <summary>A row of the README's table: <c>| `verb &lt;arg&gt;` | `--option`, ... | description |</c>.</summary>
    private sealed record Row(string Path, IReadOnlyList<string> Arguments, IReadOnlyList<string> Options, string Description);

    [Fact]
    public async Task The_readme_cli_reference_lists_every_verb_with_its_arguments_options_and_description()
    {
        var root = await HelpAsync("");
        var verbs = new List<Verb>();
        var pending = new Queue<string>(root.Commands);
        while (pending.TryDequeue(out var path))
        {
            var verb = await HelpAsync(path);
            verbs.Add(verb);
            foreach (var sub in verb.Commands) pending.Enqueue(path + " " + sub);
        }
        var globals = root.Options.Where(o => o is not "--help").ToList();
        var expected = verbs.Select(v => new Row(v.Path, v.Arguments, [.. v.Options.Where(o => o != "--help" && !globals.Contains(o))], v.Description)).ToList();
        var table = Table(expected);

        var section = ReferenceSection(table);
        var rows = section.Split('\n').Where(l => l.StartsWith("| `", StringComparison.Ordinal)).Select(Parse).ToList();

        foreach (var global in globals)
            GlobalsLine(section).Should().Contain($"`{global}`", $"the global option {global} is named above the table; the table, from --help:\n{table}");
        rows.Select(r => r.Path).Should().BeEquivalentTo(expected.Select(r => r.Path), $"every verb has a row, and no other; from --help:\n{table}");
        foreach (var want in expected)
        {
            var row = rows.Single(r => r.Path == want.Path);
            row.Options.Should().BeEquivalentTo(want.Options, $"`{want.Path}`'s options are those of its --help; from --help:\n{table}");
            row.Arguments.Should().Equal(want.Arguments, $"`{want.Path}`'s arguments; from --help:\n{table}");
            row.Description.Should().Be(want.Description, $"`{want.Path}`'s description; from --help:\n{table}");
        }
    }

    /// <summary>The table as it should be (printed when the README differs, to paste in).</summary>
    private static string Table(IEnumerable<Row> rows) =>
        "| Verb | Options | What it does |\n| --- | --- | --- |\n" + string.Concat(rows.Select(r =>
            $"| `{string.Join(" ", [r.Path, .. r.Arguments])}` | {(r.Options.Count == 0 ? "" : string.Join(", ", r.Options.Select(o => $"`{o}`")))} | {r.Description} |\n"));

    private static string ReferenceSection(string table)
    {
        var readme = File.ReadAllText(Path.Combine(SiteFixture.RepoRoot, "README.md"));
        var start = readme.IndexOf("\n## CLI reference\n", StringComparison.Ordinal);
        start.Should().BeGreaterThan(0, $"README.md has a '## CLI reference' section; its table, from --help:\n{table}");
        var end = readme.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        return end < 0 ? readme[start..] : readme[start..end];
    }

    /// <summary>The paragraph that starts with "Global options".</summary>
    private static string GlobalsLine(string section) =>
        string.Join(" ", section.Split('\n').SkipWhile(l => !l.StartsWith("Global options", StringComparison.Ordinal)).TakeWhile(l => l.Trim().Length > 0));

    private static Row Parse(string line)
    {
        var cells = line.Trim().Trim('|').Split(" | ");
        var words = cells[0].Trim().Trim('`').Split(' ');
        return new Row(string.Join(" ", words.Where(w => !w.StartsWith('<') && !w.StartsWith('['))),
            [.. words.Where(w => w.StartsWith('<') || w.StartsWith('['))],
            [.. LongOption().Matches(cells[1]).Select(m => m.Value)], cells[2].Trim());
    }

    /// <summary>Runs <c>./deploy PATH --help</c> and reads its sections.</summary>
    private static async Task<Verb> HelpAsync(string path)
    {
        string[] args = [.. path.Split(' ', StringSplitOptions.RemoveEmptyEntries), "--help"];
        var (exit, stdout, stderr) = await DeployProcess.RunAsync(Path.GetTempPath(), null, args);
        exit.Should().Be(0, stderr);
        var sections = Regex.Split(stdout.Replace("\r", ""), @"\n(?=[A-Z][a-z]+:\n)")
            .Select(s => s.Split('\n', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0].Trim().TrimEnd(':'), p => p[1]);
        IEnumerable<string> FirstColumns(string name) => sections.TryGetValue(name, out var body)
            ? body.Split('\n').Where(l => l.StartsWith("  ", StringComparison.Ordinal) && l.Trim().Length > 0).Select(l => ColumnGap().Split(l.Trim())[0])
            : [];
        return new Verb(path,
            sections.TryGetValue("Description", out var description) ? description.Trim() : "",
            Arguments(path, sections.GetValueOrDefault("Usage", "")),
            [.. FirstColumns("Options").SelectMany(c => LongOption().Matches(c).Select(m => m.Value))],
            [.. FirstColumns("Commands").Select(c => c.Split(' ')[0])]);
    }

    /// <summary>The verb's own arguments, as its usage line writes them after the verb (<c>[&lt;key&gt;]</c> when
    /// optional); the arguments of its parents come before it.</summary>
    private static List<string> Arguments(string path, string usage)
    {
        var words = usage.Trim().Split(' ').ToList();
        var at = 0;
        foreach (var word in path.Split(' ', StringSplitOptions.RemoveEmptyEntries)) at = words.IndexOf(word, at + 1);
        return [.. words.Skip(at + 1).Where(w => w is not "[options]" and not "[command]")];
    }

    [GeneratedRegex(@"--[a-z][a-z0-9-]*")]
    private static partial Regex LongOption();

    [GeneratedRegex(@"\s{2,}")]
    private static partial Regex ColumnGap();
}
