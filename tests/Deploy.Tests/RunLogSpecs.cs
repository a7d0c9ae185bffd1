using System.Text.RegularExpressions;
using AwesomeAssertions;
using Deploy.Cli;
using Deploy.Cli.Output;
using Deploy.Core.Engine;
using Deploy.Core.Transport;

namespace Deploy.Tests;

/// <summary>
/// Every up and destroy keeps a log per host, <c>.nf-deploy/logs/&lt;stack&gt;/&lt;run&gt;/&lt;host&gt;.log</c>: what the
/// engine did on the host and the whole output of every script run there, secret values masked; a stack keeps its
/// last 10 runs, and the summary says where the logs are.
/// </summary>
public sealed class RunLogSpecs
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string LogsOf(string dir) => Path.Combine(dir, ".nf-deploy", "logs", ProgressSite.Stack);

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Up_keeps_a_log_per_host_and_its_summary_says_where()
    {
        using var site = new ProgressSite();

        var (exit, stdout, _) = await DeployProcess.RunAsync(site.Dir, null, "up", "--stack", ProgressSite.Stack, "--yes");

        exit.Should().Be(1, "the hosts are unreachable");
        var shown = Regex.Match(stdout, @"(?m)^Logs: (\.nf-deploy/logs/p1/[0-9T.]+Z-up)/<host>\.log \(every script's output, secrets masked\)$");
        shown.Success.Should().BeTrue(stdout);
        var run = Path.Combine(site.Dir, shown.Groups[1].Value);
        Directory.GetFiles(run).Select(Path.GetFileName).Order().Should().Equal("h1.log", "h2.log");
        var h1 = File.ReadAllText(Path.Combine(run, "h1.log"));
        h1.Should().MatchRegex(@"(?m)^\d\d:\d\d:\d\d\.\d{3} \[connect\] 127\.0\.0\.1:\d+$")
            .And.MatchRegex(@"(?m)^\d\d:\d\d:\d\d\.\d{3} connect to 127\.0\.0\.1:\d+ failed: host h1: unreachable")
            .And.MatchRegex(@"(?m) \[failed\] host h1: unreachable").And.NotContain("127.0.0.2");
        File.GetUnixFileMode(Path.Combine(run, "h1.log")).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite, "the operator's alone");
    }

    [Fact]
    public async Task Only_the_last_10_runs_of_a_stack_are_kept()
    {
        using var site = new ProgressSite();
        var old = Enumerable.Range(1, 12).Select(i => $"20250101T0000{i:00}.000Z-up").ToList();
        foreach (var name in old) site.Site.Write($".nf-deploy/logs/{ProgressSite.Stack}/{name}/h1.log", "an old run\n");
        site.Site.Write(".nf-deploy/logs/other/20240101T000000.000Z-up/h1.log", "another stack's run\n");

        await DeployProcess.RunAsync(site.Dir, null, "up", "--stack", ProgressSite.Stack, "--yes");

        var kept = Directory.GetDirectories(LogsOf(site.Dir)).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        kept.Should().HaveCount(RunLogs.Keep);
        kept.Take(9).Should().Equal(old.Skip(3), "the oldest three runs are removed");
        kept[^1].Should().MatchRegex(@"^20\d\d\d\d\d\dT\d{6}\.\d{3}Z-up$", "this run is the newest");
        File.Exists(Path.Combine(site.Dir, ".nf-deploy/logs/other/20240101T000000.000Z-up/h1.log")).Should().BeTrue("each stack keeps its own");
    }

    [Fact]
    public async Task A_scripts_whole_output_goes_to_its_hosts_log_with_the_sites_secrets_masked()
    {
        using var site = new ProgressSite();
        const string secret = "S3cret-db-Pass-7731";
        var app = new App(new Workspace(site.Dir) { Passphrase = () => SiteFixture.LabPassphrase }, TextWriter.Null, TextWriter.Null, 1, false);
        app.ConfigSet(ProgressSite.Stack, "kamailioDbPassword", secret, secret: true);
        await app.LoadSiteAsync(ProgressSite.Stack, Ct); // the secrets are known from here on, as in every verb
        using var logs = RunLogs.Open(LogsOf(site.Dir), ProgressSite.Stack, "up", app.Redact);
        var host = new HostConnection("h1", new SshEndpoint("127.0.0.1", 22, "root", "key"));
        await using var transport = await logs.Watch(new Echoing()).ConnectAsync(host, Ct);

        var result = await transport.RunAsync("the script", Ct);

        result.Stdout.Should().Contain(secret, "the engine gets the output as it is");
        var log = File.ReadAllText(Path.Combine(logs.Dir, "h1.log"));
        log.Should().NotContain(secret).And.Contain("line 1 of 3000\n").And.Contain("line 3000 of 3000\n")
            .And.Contain("--- stdout\nthe password is [secret]\n").And.Contain("--- stderr\nwarning: [secret] is weak")
            .And.MatchRegex(@"script: exit 3 after [0-9.]+s, \d+ bytes out, \d+ bytes err");
    }

    /// <summary>A host whose script prints the secret it was given, 3000 lines more, and a warning; exit 3.</summary>
    private sealed class Echoing : IHostConnector, IHostTransport
    {
        public string HostName => "h1";

        public Task<IHostTransport> ConnectAsync(HostConnection connection, CancellationToken ct) => Task.FromResult<IHostTransport>(this);

        public Task<ExecResult> RunAsync(string script, CancellationToken ct) => Task.FromResult(new ExecResult(3,
            "the password is S3cret-db-Pass-7731\n" + string.Concat(Enumerable.Range(1, 3000).Select(i => $"line {i} of 3000\n")),
            "warning: S3cret-db-Pass-7731 is weak\n"));

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
