using System.Text.Json;
using System.Text.RegularExpressions;
using AwesomeAssertions;

namespace Deploy.Tests;

/// <summary>
/// Progress while ./deploy reads and changes hosts: on a terminal a live table (per host its phase, step, done/total
/// and elapsed time, redrawn as it ticks) in colour, without colour under NO_COLOR; plain lines without a terminal or in
/// CI; with --json the table goes to stderr and stdout stays one JSON document. Real ./deploy processes on a
/// pseudo-terminal (<c>script</c>) against a loopback site whose hosts refuse connections.
/// </summary>
public sealed partial class ProgressSpecs
{
    // an SGR sequence (\e[...m) that sets a colour: 30-37/90-97 foreground, 40-47/100-107 background, 38;5;n/48;5;n...
    [GeneratedRegex(@"\x1b\[(?:[0-9]*;)*(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;[0-9]*)*m")]
    private static partial Regex Colour();

    // the cursor moved up: the live table is drawn again over itself
    [GeneratedRegex(@"\x1b\[[0-9]+A")]
    private static partial Regex CursorUp();

    private static string[] Preview => ["preview", "--stack", ProgressSite.Stack];

    [Fact]
    public async Task Preview_on_a_terminal_shows_a_live_table_of_the_hosts_that_ticks_in_colour()
    {
        using var site = new ProgressSite();

        var (exit, screen) = await TerminalProcess.RunAsync(site.Dir, null, null, Preview);

        exit.Should().Be(1, "both hosts are unreachable: " + screen);
        var text = Plain(screen);
        text.Should().MatchRegex(@"HOST\s*│\s*PHASE\s*│\s*STEP\s*│\s*DONE\s*│\s*ELAPSED", "the table's header");
        text.Should().MatchRegex(@"│ h1\s*│ \S+ connect\s*│ 127\.0\.0\.1:\d+", "h1 in its connect phase, with a spinner");
        text.Should().MatchRegex(@"│ h2\s*│ \S+ connect\s*│ 127\.0\.0\.2:\d+");
        text.Should().MatchRegex(@"│ h1\s*│ ✗ failed\s*│ host h1: unreachable", "the host's end");
        CursorUp().IsMatch(screen).Should().BeTrue("the table is redrawn in place");
        Regex.Matches(text, @"│ h1\s*│ \S+ connect\s*│[^│]*│[^│]*│\s*([0-9.]+s)").Select(m => m.Groups[1].Value).Distinct().Count()
            .Should().BeGreaterThan(1, "the elapsed time ticks while the host is at its step");
        Colour().IsMatch(screen).Should().BeTrue("a terminal gets colour");
        text.Should().Contain("Previewing update (p1):", "the plan follows the table");
    }

    [Fact]
    public async Task NO_COLOR_keeps_the_live_table_and_drops_every_colour()
    {
        using var site = new ProgressSite();

        var (_, screen) = await TerminalProcess.RunAsync(site.Dir, new Dictionary<string, string> { ["NO_COLOR"] = "1" }, null, Preview);

        Plain(screen).Should().MatchRegex(@"HOST\s*│\s*PHASE", "still a live table");
        CursorUp().IsMatch(screen).Should().BeTrue();
        Colour().Matches(screen).Select(m => m.Value).Distinct().Should().BeEmpty("NO_COLOR (no-color.org) means no colour codes");
    }

    [Fact]
    public async Task Without_a_terminal_progress_is_plain_lines_on_stderr()
    {
        using var site = new ProgressSite();

        var (exit, stdout, stderr) = await DeployProcess.RunAsync(site.Dir, new Dictionary<string, string?> { ["TERM"] = "xterm-256color" }, Preview);

        exit.Should().Be(1);
        (stdout + stderr).Should().NotContain("\x1b", "no escape sequence at all when the output is no terminal");
        stderr.Should().MatchRegex(@"(?m)^h1: connect to 127\.0\.0\.1:\d+ failed \(Connection refused\); retry 1")
            .And.MatchRegex(@"(?m)^h1: error: host h1: unreachable").And.NotContain("│");
        stdout.Should().StartWith("Previewing update (p1):");
    }

    [Fact]
    public async Task In_CI_a_terminal_gets_plain_lines_too()
    {
        using var site = new ProgressSite();

        var (_, screen) = await TerminalProcess.RunAsync(site.Dir, new Dictionary<string, string> { ["CI"] = "true" }, null, Preview);

        screen.Should().NotContain("│").And.MatchRegex(@"(?m)^h2: error: host h2: unreachable");
        Regex.IsMatch(screen, @"\x1b\[[0-9;]*[mA]").Should().BeFalse("neither colour nor a redrawn table (.NET's own keypad mode \\e[?1h may stay)");
    }

    [Fact]
    public async Task Up_json_on_a_terminal_draws_on_stderr_and_keeps_stdout_one_json_document()
    {
        using var site = new ProgressSite();
        var json = Path.Combine(site.Dir, "up.json");

        var (exit, screen) = await TerminalProcess.RunAsync(site.Dir, null, json, "up", "--stack", ProgressSite.Stack, "--yes", "--json");

        exit.Should().Be(1);
        Plain(screen).Should().MatchRegex(@"HOST\s*│\s*PHASE", "the live table is on stderr, the terminal");
        var document = File.ReadAllText(json);
        document.Should().NotContain("\x1b").And.NotContain("│");
        using var parsed = JsonDocument.Parse(document);
        parsed.RootElement.GetProperty("problems").GetArrayLength().Should().Be(2, "stdout is the plan's JSON document alone: " + document);
    }

    /// <summary>The screen without escape sequences and carriage returns.</summary>
    private static string Plain(string screen) => Regex.Replace(screen, @"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r", "");
}
