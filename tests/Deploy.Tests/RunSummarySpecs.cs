using AwesomeAssertions;
using Deploy.Cli.Output;
using Deploy.Core.Engine;

namespace Deploy.Tests;

/// <summary>The end of an up tells restarts (a changed config) from first starts (a newly installed package).</summary>
public sealed class RunSummarySpecs
{
    private const string Path = ProxySite.ConfigPath;

    [Fact]
    public async Task A_changed_config_counts_as_a_restart_not_a_first_start()
    {
        using var rig = new EngineRig(new FakeHost("h1", "10.0.0.11").WithFile(Path, "v1\n").WithService(ProxySite.ServiceName));

        var run = await rig.UpAsync(ProxySite.Of(rig.Hosts, "v2\n"), TestContext.Current.CancellationToken);

        run.Outcome("h1").Restarts.Should().Be(1);
        run.Outcome("h1").Starts.Should().Be(0);
    }

    [Fact]
    public void The_summary_counts_restarts_and_first_starts_apart_over_the_hosts()
    {
        HostOutcome[] hosts =
        [
            new("pgw-1", 9, null, []) { Starts = 8 },
            new("pgw-2", 9, null, []) { Starts = 8 },
            new("kamailio-1", 2, null, []) { Restarts = 1 },
        ];

        RunSummary.Starts(hosts).Should().Be("Services: 1 restart, 16 first starts");
        RunSummary.Starts([new("h", 0, null, [])]).Should().Be("Services: 0 restarts, 0 first starts");
    }

    [Fact]
    public void Without_a_terminal_each_host_is_one_line_scripts_can_grep()
    {
        var report = new ApplyReport(new Plan("s", [], [new HostProblem("h3", "unreachable")]),
            [new("h1", 2, null, []) { Restarts = 1 }, new("h2", 0, "validation failed", [])]);
        var text = new StringWriter();

        RunSummary.Write(text, terminal: false, ConsoleMode.Plain, report, s => s);

        text.ToString().Should().Be("h1: ok, 2 changed\nh2: FAILED, 0 changed: validation failed\nh3: FAILED: unreachable\nServices: 1 restart, 0 first starts\n");
    }
}
