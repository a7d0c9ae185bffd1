using AwesomeAssertions;
using Deploy.Cli;
using Deploy.Core.Resources;
using Deploy.Resources;

namespace Deploy.Tests;

/// <summary>What preview shows of the real engine's plan on fake hosts: the batches <c>up</c> goes by, one diff for a
/// change made the same on every host of a group, and new files' content with <c>--diff</c> only.</summary>
public sealed class PreviewEngineSpecs : IDisposable
{
    private const string Path = ProxySite.ConfigPath;
    private const string V1 = "listen=udp:0.0.0.0:5060\n";
    private const string V2 = "listen=udp:0.0.0.0:5060\nmax_while_loops=100\n";
    private readonly List<EngineRig> _rigs = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private EngineRig Proxies(int n, bool configured = true)
    {
        var rig = new EngineRig([.. Enumerable.Range(1, n).Select(i =>
        {
            var host = new FakeHost($"h{i}", $"10.0.0.{10 + i}").WithService(ProxySite.ServiceName);
            return configured ? host.WithFile(Path, V1) : host;
        })]);
        _rigs.Add(rig);
        return rig;
    }

    [Fact]
    public async Task A_config_change_on_three_proxies_previews_one_diff_and_the_batches_up_then_goes_by()
    {
        var rig = Proxies(3);
        await rig.UpAsync(ProxySite.Of(rig.Hosts, V1), Ct);

        var (plan, _) = await rig.PreviewAsync(ProxySite.Of(rig.Hosts, V2), Ct);
        var text = PlanPrinter.Text(plan, showSames: false);

        text.Should().StartWith("sip: h1, h2, h3\n  kamailio\n    3 hosts (h1, h2, h3):\n");
        text.Split('\n').Count(l => l.Contains("+max_while_loops=100")).Should().Be(1);
        text.Should().Contain("    sip: batch 1: h1; batch 2: h2; batch 3: h3 (stops at the first failure)\n");
        text.Should().Contain("(3 service restarts)");

        // up goes by the same batches: h1 alone first, so h1 failing stops the group before h2 and h3
        rig["h1"].Starts = (h, _) => h.File(Path)!.Content == V1;
        var run = await rig.UpAsync(ProxySite.Of(rig.Hosts, V2), Ct);
        run.Outcome("h2").Error.Should().Contain("not touched: the rollout of group sip stopped after 1 of 3 hosts failed");
        run.Outcome("h3").Error.Should().Contain("not touched");
    }

    [Fact]
    public async Task With_diff_a_new_file_shows_its_whole_content_and_without_it_just_its_creation()
    {
        var rig = Proxies(2, configured: false);
        var site = ProxySite.Of(rig.Hosts, V2);

        var (plain, _) = await rig.PreviewAsync(site, Ct);
        var (withDiff, sent) = await rig.PreviewAsync(site, Ct, diffNewContent: true);

        plain.Steps.Single(s => s.Host == "h1" && s.Type == ResourceTypes.File).ContentDiff.Should().BeNull();
        PlanPrinter.Text(plain, false).Should().Contain($"+ nfdeploy:fs:File         {Path}  [content: ∅ → sha256:").And.NotContain("+max_while_loops");
        withDiff.Steps.Single(s => s.Host == "h1" && s.Type == ResourceTypes.File).ContentDiff.Should()
            .Be($"--- /dev/null\n+++ h1:{Path} (desired)\n@@ -0,0 +1,2 @@\n+listen=udp:0.0.0.0:5060\n+max_while_loops=100\n");
        var text = PlanPrinter.Text(withDiff, false);
        text.Should().Contain($"{Path}  (same content on 2 hosts)").And.Contain($"+++ {{host}}:{Path} (desired)");
        text.Split('\n').Count(l => l.Contains("+max_while_loops=100")).Should().Be(1);
        sent["h1"].Select(s => s.Kind).Should().Equal([ScriptKind.Read], "a new file's content needs no fetch from the host");
    }

    public void Dispose()
    {
        foreach (var rig in _rigs) rig.Dispose();
    }
}
