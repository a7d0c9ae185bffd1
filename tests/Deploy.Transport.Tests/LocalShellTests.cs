using Xunit;
using System.Diagnostics;
using System.Security.Cryptography;
using AwesomeAssertions;
using Deploy.Core.Model;

namespace Deploy.Transport.Tests;

public sealed class LocalShellTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_local_script_runs_with_its_text_on_stdin()
    {
        await using var shell = new LocalShell();
        var marker = "nf-local-" + Guid.NewGuid().ToString("N");

        var result = await shell.RunAsync($": {marker}\necho out\necho err >&2\nps -eo args | grep -c -- '[{marker[0]}]{marker[1..]}' || true\nexit 3", Ct);

        shell.HostName.Should().Be("localhost");
        result.ExitCode.Should().Be(3);
        result.Stdout.Should().Be("out\n0\n");
        result.Stderr.Should().Be("err\n");
    }

    [Fact]
    public async Task A_local_command_reading_stdin_does_not_swallow_the_script()
    {
        await using var shell = new LocalShell();

        (await shell.RunAsync("cat\necho after", Ct)).Stdout.Should().Be("after\n");
    }

    [Fact]
    public async Task A_large_local_script_is_carried_intact()
    {
        await using var shell = new LocalShell();
        var content = RandomNumberGenerator.GetBytes(1024 * 1024);
        var base64 = Convert.ToBase64String(content, Base64FormattingOptions.InsertLineBreaks).Replace("\r\n", "\n");

        var result = await shell.RunAsync($"base64 -d <<'EOF' | sha256sum | cut -d' ' -f1\n{base64}\nEOF", Ct);

        result.Stdout.Trim().Should().Be(Convert.ToHexStringLower(SHA256.HashData(content)));
    }

    [Fact]
    public async Task A_local_script_ending_early_with_a_large_rest_does_not_hang()
    {
        await using var shell = new LocalShell();

        var result = await shell.RunAsync("exit 5\n" + new string('#', 2_000_000), Ct);

        result.ExitCode.Should().Be(5);
    }

    [Fact]
    public async Task A_cancelled_local_script_is_killed()
    {
        await using var shell = new LocalShell();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cts.CancelAfter(200);
        var clock = Stopwatch.StartNew();

        var run = () => shell.RunAsync("sleep 30", cts.Token);

        await run.Should().ThrowAsync<OperationCanceledException>();
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_local_command_gets_its_arguments_verbatim_and_its_environment()
    {
        var runner = new LocalCommand(Path.GetTempPath(), new Dictionary<string, string?> { ["NF_TEST"] = "v 1" });

        var result = await runner.RunAsync("/bin/sh", ["-c", "printf '[%s]' \"$@\"; printf '%s|%s' \"$NF_TEST\" \"$(pwd)\"", "sh", "a b", "", "'c'"], Ct);

        result.Should().Be(new Deploy.Core.Transport.ExecResult(0, $"[a b][]['c']v 1|{Path.GetTempPath().TrimEnd('/')}", ""));
    }

    [Fact]
    public async Task A_missing_program_is_a_clear_error()
    {
        var run = () => new LocalCommand().RunAsync("/nonexistent/tool", [], Ct);

        (await run.Should().ThrowAsync<DeployException>()).Which.Message.Should().StartWith("cannot run /nonexistent/tool: ");
    }
}
