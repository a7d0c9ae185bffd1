using System.Text.Json;
using AwesomeAssertions;
using Deploy.Core.Engine;

namespace Deploy.Tests;

/// <summary>
/// Where a run's time goes (issue 17): the engine reports each phase it went through, its SSH connections and round
/// trips; ./deploy prints them with -v and adds them to --json as <c>timings</c>. Counts and names only: no timed
/// assertion (speed is measured by bench/, never by a test).
/// </summary>
public sealed class RunMetricsSpecs : IDisposable
{
    private const string V1 = "listen=udp:0.0.0.0:5060\n";
    private readonly EngineRig _rig = new([.. Enumerable.Range(1, 5).Select(i =>
        new FakeHost($"h{i}", $"10.0.0.{10 + i}").WithFile(ProxySite.ConfigPath, V1).WithService(ProxySite.ServiceName))]);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_preview_of_a_converged_site_opens_one_connection_and_makes_one_round_trip_per_host()
    {
        var site = ProxySite.Of(_rig.Hosts, V1);
        (await _rig.UpAsync(site, Ct)).Report!.Ok.Should().BeTrue();

        _rig.Metrics = new RunMetrics();
        var (plan, _) = await _rig.PreviewAsync(site, Ct);
        var report = _rig.Metrics.Report(_rig.Hosts.Length);

        plan.HasChanges.Should().BeFalse();
        (report.Connections, report.RoundTrips, report.MostRoundTrips).Should().Be((5, 5, 1));
    }

    [Fact]
    public async Task An_up_reports_each_phase_it_went_through_in_order_with_per_host_phases_counted_once_per_host()
    {
        var site = ProxySite.Of(_rig.Hosts, V1 + "children=4\n");

        (await _rig.UpAsync(site, Ct)).Report!.Ok.Should().BeTrue();
        var report = _rig.Metrics.Report(_rig.Hosts.Length);

        report.Phases.Select(p => p.Name).Should().Equal("connect", "read", "render", "plan", "apply", "health", "state");
        report.Phases.Single(p => p.Name == "connect").Count.Should().Be(5);
        report.Phases.Single(p => p.Name == "state").Count.Should().BeInRange(1, 15,
            "each host writes at most three times (its restart due, made, its outcome), fewer when hosts share a write");
        report.Phases.Single(p => p.Name == "apply").Count.Should().Be(5);
        report.Lines().Should().Contain(l => l.StartsWith("ssh: 5 connections, ", StringComparison.Ordinal));
    }

    [Fact]
    public void A_phase_that_hosts_go_through_at_once_counts_its_wall_time_once_and_the_gaps_between_its_runs_not_at_all()
    {
        var metrics = new RunMetrics();
        metrics.Add("read", Ms(0), Ms(100));
        metrics.Add("read", Ms(50), Ms(150));
        metrics.Add("render", Ms(0), Ms(10));
        metrics.Add("render", Ms(1000), Ms(1010));

        var phases = metrics.Report(2).Phases.ToDictionary(p => p.Name);

        (phases["read"].Wall, phases["read"].Sum, phases["read"].Count).Should().Be((TimeSpan.FromMilliseconds(150), TimeSpan.FromMilliseconds(200), 2));
        (phases["render"].Wall, phases["render"].Sum).Should().Be((TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(20)));
    }

    /// <summary>A stopwatch timestamp, in milliseconds from 0.</summary>
    private static long Ms(long ms) => ms * System.Diagnostics.Stopwatch.Frequency / 1000;

    [Fact]
    public async Task Preview_verbose_lists_each_phase_and_json_has_the_timings_fields()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("roles/bare.yaml", "description: no network function\nnfs: []\n")
            .Write("inventory/solo.yaml",
                "ssh: { user: root, key: keys/id, port: 1 }\nhosts:\n  solo-1:\n    address: 127.0.0.1\n    roles: [bare]\n")
            .Write("stacks/Pulumi.solo.yaml", "config:\n  nf-deploy:inventory: solo\n");
        Directory.CreateDirectory(Path.Combine(site.Dir, "keys"));
        var keyFile = Path.Combine(site.Dir, "keys/id");
        using (var keygen = System.Diagnostics.Process.Start("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", keyFile]))
            await keygen.WaitForExitAsync(Ct);

        var verbose = await DeployProcess.RunAsync(site.Dir, null, "preview", "--stack", "solo", "-v"); // nothing listens on 127.0.0.1:1
        var json = await DeployProcess.RunAsync(site.Dir, null, "preview", "--stack", "solo", "--json");

        foreach (var phase in new[] { "site", "site.files", "site.templates", "site.keys", "connect", "render", "plan" })
            verbose.Stderr.Should().MatchRegex($"(?m)^phase {System.Text.RegularExpressions.Regex.Escape(phase)} +[0-9]+ ms");
        verbose.Stderr.Should().Contain("ssh: 0 connections, 0 round trips").And.MatchRegex("(?m)^controller: [0-9]+ ms CPU");
        using var doc = JsonDocument.Parse(json.Stdout);
        var timings = doc.RootElement.GetProperty("timings");
        timings.GetProperty("phases").GetProperty("connect").GetProperty("count").GetInt32().Should().Be(1);
        timings.GetProperty("phases").GetProperty("site.files").GetProperty("ms").GetInt64().Should().BeGreaterThanOrEqualTo(0);
        var fields = new[] { "hosts", "sshConnections", "roundTrips", "cpuMs", "startupCpuMs", "cpuPerHostMs", "peakRssMb", "wallMs" };
        foreach (var field in fields)
            timings.TryGetProperty(field, out _).Should().BeTrue($"--json has timings.{field}");
        timings.GetProperty("hosts").GetInt32().Should().Be(1);
    }

    public void Dispose() => _rig.Dispose();
}
