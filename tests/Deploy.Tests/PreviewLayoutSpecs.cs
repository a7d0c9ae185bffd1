using System.Collections.Immutable;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using AwesomeAssertions;
using Deploy.Cli;
using Deploy.Core.Engine;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Core.Transport;
using Deploy.Resources;

namespace Deploy.Tests;

/// <summary>A preview that reads at scale (pure: a plan in, text out): steps by inventory group and NF, the same change
/// on several hosts shown once, first starts apart from restarts, the rollout's batches, colour only when wanted.</summary>
public sealed class PreviewLayoutSpecs
{
    private const string Cfg = "/etc/kamailio/kamailio.cfg";
    private static readonly string[] Kamailios = ["kamailio-1", "kamailio-2", "kamailio-3"];

    private static string Address(string host) => "10.0.0." + (10 + int.Parse(host[^1..], System.Globalization.CultureInfo.InvariantCulture));

    private static PlanStep Step(ResourceSpec spec, StepOp op, ImmutableArray<PropertyChange> changes = default) =>
        new(spec.Host, spec.Urn("lab"), spec.Type, spec.Name, op, changes.IsDefault ? [] : changes, spec, spec.Identity);

    /// <summary>A host's kamailio.cfg changed from <paramref name="before"/> to <paramref name="after"/> and the restart
    /// of kamailio it causes (as the engine plans them).</summary>
    private static IEnumerable<PlanStep> ConfigChange(string host, string before, string after)
    {
        var file = new FileSpec(Cfg, after, "root", "root", "0644") { Host = host, Name = Cfg, DeclaredBy = "kamailio", Notify = ["kamailio"] };
        var service = new ServiceSpec("kamailio") { Host = host, Name = "kamailio", DeclaredBy = "kamailio" };
        var changed = Step(file, StepOp.Update, [new PropertyChange("content", "sha256:" + host, "sha256:new-" + host)])
            with
        { ContentDiff = UnifiedDiff.Create(before, after, $"{host}:{Cfg} (live)", $"{host}:{Cfg} (desired)") };
        return TriggerPlanner.Propagate([changed, Step(service, StepOp.Same)], HostFacts.Assumed(host, Address(host)));
    }

    private static HostTarget Target(string host, string group, string batch = "1", int maxFail = 0) =>
        new(host, new HostConnection(host, new SshEndpoint(Address(host), 22, "root", "/dev/null")), null, null)
        { Rollout = new RolloutPolicy(group, batch, maxFail) };

    private static Plan PlanOf(IEnumerable<PlanStep> steps, string batch = "1", int maxFail = 0, params HostTarget[] others)
    {
        var all = steps.ToImmutableArray();
        HostTarget[] targets = [.. Kamailios.Select(h => Target(h, "kamailio", batch, maxFail)), .. others];
        return new Plan("lab", all, [])
        {
            Hosts = [.. targets.Select(t => new PlanHost(t.Name, t.Rollout.Group, [Address(t.Name)]))],
            Rollout = RolloutWaves.Of(targets, all),
        };
    }

    private static int Count(string text, string part) => Regex.Matches(text, Regex.Escape(part)).Count;

    [Fact]
    public void The_same_change_on_three_hosts_of_a_group_shows_once_under_the_three_hosts()
    {
        var plan = PlanOf(Kamailios.SelectMany(h => ConfigChange(h, "a\nb\n", "a\nb\nchildren=8\n")));

        var text = PlanPrinter.Text(plan, showSames: false);

        text.Should().StartWith("kamailio: kamailio-1, kamailio-2, kamailio-3\n  kamailio\n    3 hosts (kamailio-1, kamailio-2, kamailio-3):\n");
        text.Should().Contain($"      ~ nfdeploy:fs:File         {Cfg}  (same diff on 3 hosts)\n");
        text.Should().Contain($"          --- {{host}}:{Cfg} (live)\n");
        Count(text, "+children=8").Should().Be(1, "the diff is shown once for the three hosts");
        Count(text, "nfdeploy:svc:Service").Should().Be(1);
        text.Should().Contain("(3 service restarts)");
    }

    [Fact]
    public void A_change_that_differs_only_by_each_hosts_own_name_and_address_shows_once_with_their_marks()
    {
        var plan = PlanOf(Kamailios.SelectMany(h => ConfigChange(h, "a\n", $"a\nlisten=udp:{Address(h)}:5060 # {h}\n")));

        var text = PlanPrinter.Text(plan, showSames: false);

        text.Should().Contain("(same diff on 3 hosts; {host}, {address}: each host's own)");
        Count(text, "+listen=udp:{address}:5060 # {host}").Should().Be(1);
        text.Should().NotContain("10.0.0.1");
    }

    [Fact]
    public void A_host_whose_change_differs_shows_under_its_own_name_beside_the_hosts_that_agree()
    {
        var plan = PlanOf(Kamailios.SelectMany(h => ConfigChange(h, "a\n", h == "kamailio-2" ? "a\nhand-made\n" : "a\nchildren=8\n")));

        var text = PlanPrinter.Text(plan, showSames: false);

        text.Should().Contain("    2 hosts (kamailio-1, kamailio-3):\n").And.Contain("    kamailio-2:\n");
        Count(text, "+children=8").Should().Be(1);
        Count(text, "+hand-made").Should().Be(1);
        text.Should().Contain("--- kamailio-2:/etc/kamailio/kamailio.cfg (live)", "a diff of one host names it");
    }

    [Fact]
    public void A_secret_holding_a_host_name_is_redacted_before_hosts_are_compared()
    {
        var plan = PlanOf(Kamailios.SelectMany(h => ConfigChange(h, "a\n", $"a\npassword=pw-{h}-x\n")));

        var text = string.Concat(PlanPrinter.Lines(plan, false, t => Regex.Replace(t, "pw-kamailio-[0-9]-x", "[secret]")).Select(l => l.Text + "\n"));

        text.Should().NotContain("pw-").And.Contain("+password=[secret]");
    }

    [Fact]
    public void Host_values_are_replaced_as_whole_words_only()
    {
        var host = new PlanHost("kamailio-1", "kamailio", ["10.0.0.1"]);

        PlanLayout.Generalize("kamailio-1 kamailio-10 udp:10.0.0.1:5060 10.0.0.11 110.0.0.1", host)
            .Should().Be("{host} kamailio-10 udp:{address}:5060 10.0.0.11 110.0.0.1");
    }

    [Fact]
    public void First_starts_of_new_services_are_counted_apart_from_restarts()
    {
        var greenfield = Kamailios.Select(h => Step(new ServiceSpec("kamailio") { Host = h, Name = "kamailio", DeclaredBy = "kamailio" }, StepOp.Create)
            with
        { Triggers = [new StepTrigger(TriggerKind.Start, "package kamailio newly installed")] }).ToList();

        var fresh = PlanPrinter.Text(PlanOf(greenfield), showSames: false);
        fresh.Should().Contain("    (3 first starts)\n").And.NotContain("restart");

        var mixed = PlanOf([.. greenfield.Take(2), .. ConfigChange("kamailio-3", "a\n", "b\n")]);
        PlanPrinter.Text(mixed, showSames: false).Should().Contain("    (1 service restart, 2 first starts)\n");
        var json = JsonNode.Parse(PlanPrinter.Json(mixed))!;
        ((int)json["serviceRestarts"]!).Should().Be(1);
        ((int)json["firstStarts"]!).Should().Be(2);
        json["steps"]!.AsArray().Where(s => (bool)s!["firstStart"]!).Select(s => (string)s!["host"]!).Should().Equal("kamailio-1", "kamailio-2");
        json["steps"]!.AsArray().Select(s => (string)s!["group"]!).Distinct().Should().Equal("kamailio");
    }

    [Fact]
    public void The_rollout_shows_the_batches_up_goes_by()
    {
        var changes = Kamailios.SelectMany(h => ConfigChange(h, "a\n", "b\n")).ToList();
        var pcrf = new FileSpec("/etc/freeDiameter/pcrf.conf", "x", "root", "root", "0644") { Host = "pcrf-1", Name = "/etc/freeDiameter/pcrf.conf" };

        var oneByOne = PlanPrinter.Text(PlanOf([.. changes, Step(pcrf, StepOp.Create)], "1", 0, Target("pcrf-1", "pcrf")), showSames: false);
        oneByOne.Should().Contain("Rollout:\n    kamailio: batch 1: kamailio-1; batch 2: kamailio-2; batch 3: kamailio-3 (stops at the first failure)\n" +
            "    at once: pcrf-1 (nothing running restarts)\n");

        var halves = PlanOf(changes, "50%", 34);
        PlanPrinter.Text(halves, showSames: false)
            .Should().Contain("    kamailio: batch 1: kamailio-1, kamailio-2; batch 2: kamailio-3 (stops when more than 34% fail)\n");
        var rollout = JsonNode.Parse(PlanPrinter.Json(halves))!["rollout"]!.AsArray().Single()!;
        ((string)rollout["group"]!).Should().Be("kamailio");
        rollout["batches"]!.AsArray().Select(b => string.Join(",", b!.AsArray().Select(h => (string)h!))).Should().Equal("kamailio-1,kamailio-2", "kamailio-3");
    }

    [Fact]
    public void Colour_is_added_only_when_wanted_and_the_text_is_the_same_without_it()
    {
        var plan = PlanOf(Kamailios.SelectMany(h => ConfigChange(h, "a\n", "b\n")));
        var plain = new StringWriter();
        var coloured = new StringWriter();

        PlanPrinter.Write(plain, PlanPrinter.Lines(plan, false), colour: false, t => t);
        PlanPrinter.Write(coloured, PlanPrinter.Lines(plan, false), colour: true, t => t, Spectre.Console.ColorSystemSupport.Standard);

        plain.ToString().Should().Be(PlanPrinter.Text(plan, false)).And.NotContain("\u001b[");
        coloured.ToString().Should().Contain("\u001b[");
        Regex.Replace(coloured.ToString(), "\u001b\\[[0-9;]*m", "").Should().Be(plain.ToString(), "colour adds escapes, never changes or wraps the text");
        PlanPrinter.ColourWanted(outputRedirected: true).Should().BeFalse("no colour into a pipe or a file");
    }

    [Fact]
    public void No_colour_with_NO_COLOR_set()
    {
        var before = Environment.GetEnvironmentVariable("NO_COLOR");
        try
        {
            Environment.SetEnvironmentVariable("NO_COLOR", "1");
            PlanPrinter.ColourWanted(outputRedirected: false).Should().BeFalse();
        }
        finally { Environment.SetEnvironmentVariable("NO_COLOR", before); }
    }
}
