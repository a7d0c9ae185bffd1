using AwesomeAssertions;
using Deploy.Cli;
using Deploy.Core.Transport;
using Deploy.Transport.Persist;

namespace Deploy.Tests;

/// <summary>
/// NF_DEPLOY_SSH_PERSIST: the engine's scripts travel through the user's SSH broker, which keeps the hosts'
/// connections for the next run. Planning through it must give exactly the plan of direct connections, and a second
/// run must find the connections held. (The socket's owner checks, the idle timeout and host keys are specced on real
/// sshd in the transport tests: PersistBrokerTests.)
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class PersistPlanSpecs : IAsyncDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "nfd-persist-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly CancellationTokenSource _stop = new();
    private Task? _serving;
    private PersistBroker? _broker;

    private const string V1 = "listen=udp:0.0.0.0:5060\n";
    private const string V2 = "listen=udp:0.0.0.0:5060\nmax_while_loops=200\n";

    private IHostConnector ThroughBroker(IHostConnector fakes)
    {
        var socket = Path.Combine(_dir, "ssh.sock");
        if (_broker is null)
        {
            PersistSocket.EnsurePrivateDirectory(_dir).Should().BeNull();
            _broker = new PersistBroker(_ => fakes, socket, TimeSpan.FromMinutes(5));
        }
        return new PersistConnector(socket, Path.Combine(_dir, "known_hosts"), _ =>
        {
            _serving ??= _broker.RunAsync(_stop.Token);
            return Task.CompletedTask;
        });
    }

    [Fact]
    public async Task A_preview_through_the_broker_plans_exactly_what_a_direct_preview_plans_and_the_next_one_reuses_the_connections()
    {
        using var direct = new EngineRig(Hosts());
        using var brokered = new EngineRig(Hosts()) { Through = ThroughBroker };
        foreach (var rig in new[] { direct, brokered }) await rig.UpAsync(ProxySite.Of(rig.Hosts, V1), Ct);

        var expected = await direct.PreviewAsync(ProxySite.Of(direct.Hosts, V2), Ct);
        var first = await brokered.PreviewAsync(ProxySite.Of(brokered.Hosts, V2), Ct);
        var second = await brokered.PreviewAsync(ProxySite.Of(brokered.Hosts, V2), Ct);

        expected.Plan.HasChanges.Should().BeTrue("the new config line is a change to show");
        PlanPrinter.Json(first.Plan).Should().Be(PlanPrinter.Json(expected.Plan));
        PlanPrinter.Json(second.Plan).Should().Be(PlanPrinter.Json(expected.Plan));
        PlanPrinter.Text(first.Plan, showSames: true).Should().Be(PlanPrinter.Text(expected.Plan, showSames: true));
        first.Sent.Values.Sum(s => s.Length).Should().Be(expected.Sent.Values.Sum(s => s.Length), "the same scripts, one for one");
        _broker!.Opened.Should().Be(3, "one connection per host, opened by the first run (the up) and held since");
    }

    [Fact]
    public async Task An_up_through_the_broker_converges_the_hosts_as_a_direct_up_does()
    {
        using var brokered = new EngineRig(Hosts()) { Through = ThroughBroker };
        var run = await brokered.UpAsync(ProxySite.Of(brokered.Hosts, V2), Ct);

        run.Report!.Hosts.Should().AllSatisfy(o => o.Ok.Should().BeTrue(o.Error));
        brokered.Hosts.Should().AllSatisfy(h => h.File(ProxySite.ConfigPath)!.Content.Should().Be(V2));
        (await brokered.PreviewAsync(ProxySite.Of(brokered.Hosts, V2), Ct)).Plan.HasChanges.Should().BeFalse();
    }

    [Theory]
    [InlineData("300", 300)]
    [InlineData("90s", 90)]
    [InlineData("5m", 300)]
    [InlineData(" 1h ", 3600)]
    [InlineData("24h", 86400)]
    [InlineData("25h", -1)]
    [InlineData("5x", -1)]
    [InlineData("m", -1)]
    [InlineData("-5", -1)]
    [InlineData("0", -1)]
    public void The_idle_time_is_seconds_or_a_number_with_s_m_or_h_up_to_a_day(string text, int seconds) =>
        SshPersist.ParseIdle(text).Should().Be(seconds < 0 ? null : TimeSpan.FromSeconds(seconds));

    private static FakeHost[] Hosts() =>
        [.. new[] { "sip-1", "sip-2", "sip-3" }.Select((name, i) => new FakeHost(name, $"10.0.0.{i + 1}").WithService(ProxySite.ServiceName))];

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_serving is not null) await _serving;
        _stop.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (DirectoryNotFoundException) { }
    }
}
