using System.Collections.Immutable;
using AwesomeAssertions;
using Deploy.Core.Engine;
using Deploy.Core.Resources;
using Deploy.Resources;

namespace Deploy.Tests;

/// <summary>Diff is pure: desired and live state in, operation and changes out.</summary>
public sealed class DiffSpecs
{
    private static readonly FileProvider Files = new(ResourceTypes.File);
    private static readonly Deploy.Core.Model.HostFacts Sysv = Deploy.Core.Model.HostFacts.Assumed("k1", "10.0.0.1");

    private static FileSpec Cfg(string content = "listen=udp:10.0.0.1:5060\n", string mode = "0644") =>
        new("/etc/kamailio/kamailio.cfg", content, "root", "root", mode) { Host = "k1", Name = "/etc/kamailio/kamailio.cfg", Notify = ["kamailio"] };

    private static LiveState Live(params (string K, string V)[] props) => LiveState.Of(props.Select(p => new KeyValuePair<string, string>(p.K, p.V)));

    [Fact]
    public void A_missing_file_is_created()
    {
        Files.Diff(Cfg(), null).Op.Should().Be(StepOp.Create);
    }

    [Fact]
    public void A_file_with_the_same_content_owner_and_mode_is_the_same()
    {
        var f = Cfg();
        Files.Diff(f, Live(("sha256", f.Sha256), ("owner", "root"), ("group", "root"), ("mode", "0644"), ("mtime", "1"))).Should().Be(ResourceDiff.Same);
    }

    [Fact]
    public void A_changed_content_is_an_update_of_content_only()
    {
        var f = Cfg();
        var d = Files.Diff(f, Live(("sha256", "0000"), ("owner", "root"), ("group", "root"), ("mode", "0644")));
        d.Op.Should().Be(StepOp.Update);
        d.Changes.Select(c => c.Name).Should().Equal("content");
    }

    [Fact]
    public void A_changed_mode_or_owner_is_an_update_without_content()
    {
        var f = Cfg(mode: "640");
        var d = Files.Diff(f, Live(("sha256", f.Sha256), ("owner", "kamailio"), ("group", "root"), ("mode", "0644")));
        d.Changes.Should().BeEquivalentTo(new[] { new PropertyChange("owner", "kamailio", "root"), new PropertyChange("mode", "0644", "0640") });
    }

    [Fact]
    public void A_directory_where_a_file_belongs_is_replaced()
    {
        Files.Diff(Cfg(), Live(("exists", "other"))).Op.Should().Be(StepOp.Replace);
    }

    [Fact]
    public void A_managed_block_is_compared_with_its_markers_and_ignores_the_files_owner()
    {
        var block = new FileSpec("/etc/hosts", "10.0.0.2 dmq-56.example.net", "root", "root", "0644") { Host = "k1", Name = "/etc/hosts#dmq", Block = "dmq" };
        block.BlockText.Should().Be("# BEGIN nf-deploy dmq\n10.0.0.2 dmq-56.example.net\n# END nf-deploy dmq\n");
        Files.Diff(block, Live(("sha256", Hashing.Sha256Hex(block.BlockText)))).Should().Be(ResourceDiff.Same);
        Files.Diff(block, null).Op.Should().Be(StepOp.Create);
    }

    [Fact]
    public void A_package_not_installed_is_created_and_an_installed_one_is_left_alone()
    {
        var p = new PackageProvider();
        var spec = new PackageSpec("kamailio") { Host = "k1", Name = "kamailio" };
        p.Diff(spec, null).Op.Should().Be(StepOp.Create);
        p.Diff(spec, Live(("version", "5.6.3-2"))).Should().Be(ResourceDiff.Same);
        p.Diff(spec with { Version = "5.6.4-1" }, Live(("version", "5.6.3-2"))).Changes.Should().ContainSingle(c => c.Name == "version");
    }

    [Fact]
    public void A_stopped_or_disabled_service_is_started_and_enabled()
    {
        var s = new ServiceProvider();
        var spec = new ServiceSpec("kamailio") { Host = "k1", Name = "kamailio" };
        s.Diff(spec, null).Op.Should().Be(StepOp.Create);
        s.Diff(spec, Live(("active", "1"), ("enabled", "1"), ("pid", "42"))).Should().Be(ResourceDiff.Same);
        s.Diff(spec, Live(("active", "0"), ("enabled", "0"))).Changes.Select(c => c.Name).Should().Equal("running", "enabled");
    }

    [Fact]
    public void A_hostname_differing_live_or_in_etc_hostname_is_updated()
    {
        var h = new HostnameProvider();
        var spec = new HostnameSpec("pgw-1") { Host = "pgw-1", Name = "hostname" };
        h.Diff(spec, Live(("hostname", "pgw-1"), ("etc", "pgw-1"))).Should().Be(ResourceDiff.Same);
        h.Diff(spec, Live(("hostname", "debian"), ("etc", "debian"))).Changes.Should().HaveCount(2);
    }

    [Fact]
    public void A_changed_file_restarts_the_service_it_notifies_and_nothing_else()
    {
        var cfg = Cfg();
        var other = new FileSpec("/etc/motd", "hi", "root", "root", "0644") { Host = "k1", Name = "/etc/motd" };
        var svc = new ServiceSpec("kamailio") { Host = "k1", Name = "kamailio", Package = "kamailio" };
        PlanStep Step(ResourceSpec r, StepOp op) => new("k1", r.Urn("lab"), r.Type, r.Name, op, [], r, r.Identity);

        var changed = TriggerPlanner.Propagate([Step(cfg, StepOp.Update), Step(svc, StepOp.Same)], Sysv).ToList();
        changed[1].Op.Should().Be(StepOp.Update);
        changed[1].Restarts.Should().BeTrue();
        changed[1].Triggers.Should().Equal(new StepTrigger(TriggerKind.Restart, "/etc/kamailio/kamailio.cfg changed"));
        changed[1].Changes.Should().BeEmpty("a restart is a trigger of the step, not a property of the service");

        var unrelated = TriggerPlanner.Propagate([Step(cfg, StepOp.Same), Step(other, StepOp.Update), Step(svc, StepOp.Same)], Sysv).ToList();
        unrelated[2].Op.Should().Be(StepOp.Same);
    }

    [Fact]
    public void A_restart_left_pending_by_a_run_that_died_is_still_made()
    {
        var svc = new ServiceSpec("kamailio") { Host = "k1", Name = "kamailio" };
        var step = new PlanStep("k1", svc.Urn("lab"), svc.Type, svc.Name, StepOp.Same, [], svc, svc.Identity);
        var planned = TriggerPlanner.Propagate([step], Sysv, new HashSet<string> { "kamailio" }).Single();
        planned.Op.Should().Be(StepOp.Update);
        planned.Triggers.Should().Equal(new StepTrigger(TriggerKind.Restart, "left pending by an interrupted run"));
        TriggerPlanner.Propagate([step], Sysv, new HashSet<string>()).Single().Op.Should().Be(StepOp.Same);
    }

    [Fact]
    public void A_newly_installed_package_starts_its_service()
    {
        var pkg = new PackageSpec("kamailio") { Host = "k1", Name = "kamailio" };
        var svc = new ServiceSpec("kamailio") { Host = "k1", Name = "kamailio", Package = "kamailio" };
        var steps = TriggerPlanner.Propagate([
            new PlanStep("k1", pkg.Urn("lab"), pkg.Type, pkg.Name, StepOp.Create, [], pkg, pkg.Identity),
            new PlanStep("k1", svc.Urn("lab"), svc.Type, svc.Name, StepOp.Create, [], svc, svc.Identity)], Sysv).ToList();
        steps[1].Op.Should().Be(StepOp.Create);
        steps[1].Restarts.Should().BeTrue();
        steps[1].Triggers.Should().Equal(new StepTrigger(TriggerKind.Start, "package kamailio newly installed"));
    }

    [Theory]
    [InlineData("1", 3, 1)]
    [InlineData("2", 5, 2)]
    [InlineData("50%", 5, 3)]
    [InlineData("10%", 3, 1)]
    [InlineData("nonsense", 3, 1)]
    public void Rolling_batches_are_a_count_or_a_percentage_of_the_group(string batch, int hosts, int size)
    {
        new RolloutPolicy("kamailio", batch, 0).BatchSize(hosts).Should().Be(size);
    }

    [Fact]
    public void Urns_follow_pulumis_shape()
    {
        Cfg().Urn("lab").Should().Be("urn:pulumi:lab::nf-deploy::nfdeploy:fs:File::k1:/etc/kamailio/kamailio.cfg");
    }

    [Fact]
    public void A_unified_diff_shows_the_changed_line_with_context()
    {
        var before = string.Join("\n", Enumerable.Range(1, 10).Select(i => $"line {i}")) + "\n";
        var after = before.Replace("line 5\n", "line five\n");
        var diff = UnifiedDiff.Create(before, after, "a", "b");
        diff.Should().Be("--- a\n+++ b\n@@ -2,7 +2,7 @@\n line 2\n line 3\n line 4\n-line 5\n+line five\n line 6\n line 7\n line 8\n");
    }

    [Fact]
    public void A_unified_diff_of_a_new_file_adds_every_line()
    {
        UnifiedDiff.Create("", "a\nb\n", "/dev/null", "x").Should().Be("--- /dev/null\n+++ x\n@@ -0,0 +1,2 @@\n+a\n+b\n");
    }

    [Theory]
    [InlineData(1, 3)]   // few distinct lines: many repeats, Myers' part
    [InlineData(2, 40)]
    [InlineData(3, 1000)] // mostly unique lines: patience's part
    public void A_unified_diff_patches_the_old_file_into_the_new_one(int seed, int distinct)
    {
        var random = new Random(seed);
        for (var round = 0; round < 200; round++)
        {
            string Text(int lines) => string.Concat(Enumerable.Range(0, lines).Select(_ => $"l{random.Next(distinct)}\n"));
            var before = Text(random.Next(0, 60));
            var after = random.Next(3) == 0 ? Text(random.Next(0, 60)) : Mutate(before, random, distinct);
            Patch(before, UnifiedDiff.Create(before, after, "a", "b", context: random.Next(0, 4))).Should().Be(after, $"round {round}");
        }
    }

    [Fact]
    public void A_diff_of_reordered_blocks_shows_them_moved_rather_than_every_line_changed()
    {
        var blocks = Enumerable.Range(0, 4).Select(k => string.Concat(Enumerable.Range(0, 5).Select(i => $"route {k} line {i}\n"))).ToArray();
        var before = string.Concat(blocks);
        var after = string.Concat(blocks[1], blocks[0], blocks[2], blocks[3]);
        var diff = UnifiedDiff.Create(before, after, "a", "b");
        Patch(before, diff).Should().Be(after);
        diff.Split('\n').Count(l => l.StartsWith('-') && !l.StartsWith("---")).Should().Be(5);
    }

    private static string Mutate(string text, Random random, int distinct)
    {
        var lines = text.Split('\n')[..^1].ToList();
        for (var edits = random.Next(1, 6); edits > 0; edits--)
        {
            var at = random.Next(lines.Count + 1);
            if (random.Next(2) == 0 && at < lines.Count) lines.RemoveAt(at);
            else lines.Insert(at, $"l{random.Next(distinct)}");
        }
        return string.Concat(lines.Select(l => l + "\n"));
    }

    /// <summary>Applies a unified diff (as patch does, hunk headers trusted), checking every context and deleted line.</summary>
    private static string Patch(string before, string diff)
    {
        var old = before.Length == 0 ? [] : before.Split('\n')[..^1];
        var result = new List<string>();
        var at = 0;
        foreach (var line in diff.Split('\n')[2..^1])
        {
            if (line.StartsWith("@@"))
            {
                var start = int.Parse(line.Split(' ')[1].TrimStart('-').Split(',')[0]);
                var length = int.Parse(line.Split(' ')[1].Split(',')[1]);
                var from = length == 0 ? start : start - 1;
                while (at < from) result.Add(old[at++]);
                continue;
            }
            if (line[0] == '+') { result.Add(line[1..]); continue; }
            old[at].Should().Be(line[1..]);
            if (line[0] == ' ') result.Add(old[at]);
            at++;
        }
        while (at < old.Length) result.Add(old[at++]);
        return string.Concat(result.Select(l => l + "\n"));
    }
}
