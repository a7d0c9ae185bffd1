using System.Collections.Immutable;
using System.Text.Json.Nodes;
using AwesomeAssertions;
using Deploy.Cli;
using Deploy.Core.Engine;
using Deploy.Core.Lab;
using Deploy.Core.Resources;
using Deploy.Resources;

namespace Deploy.Tests;

/// <summary>What a preview shows of the engine's plan: a restart is a trigger of the step (who made it due), shown as
/// Pulumi-style changes; the lab phase's hosts appear before their resources.</summary>
public sealed class PlanPrinterSpecs
{
    private static PlanStep Step(ResourceSpec spec, StepOp op, ImmutableArray<PropertyChange> changes = default) =>
        new(spec.Host, spec.Urn("lab"), spec.Type, spec.Name, op, changes.IsDefault ? [] : changes, spec, spec.Identity);

    private static Plan Sample()
    {
        var unit = new FileSpec("/etc/systemd/system/kamailio@.service", "[Service]\n", "root", "root", "0644")
        { Host = "ims-1", Name = "/etc/systemd/system/kamailio@.service", Notify = ["kamailio@pcscf"] };
        var service = new ServiceSpec("kamailio@pcscf") { Host = "ims-1", Name = "kamailio@pcscf" };
        var pgw = new FileSpec("/etc/open5gs/smf.yaml", "smf:\n", "root", "root", "0644") { Host = "pgw-4", Name = "/etc/open5gs/smf.yaml" };
        var facts = Deploy.Core.Model.HostFacts.Assumed("ims-1", "10.0.0.1", init: "systemd");
        var ims = TriggerPlanner.Propagate([Step(unit, StepOp.Update, [new PropertyChange("content", "aaa", "bbb")]), Step(service, StepOp.Same)], facts);
        return new Plan("lab", [.. ims, Step(pgw, StepOp.Create)], [])
        {
            Lab = [new LabChange("pgw-9", StepOp.Delete), new LabChange("ims-1", StepOp.Same), new LabChange("pgw-4", StepOp.Create)],
        };
    }

    [Fact]
    public void A_unit_file_change_shows_daemon_reload_then_restart_on_its_service_and_counts_one_restart()
    {
        var text = PlanPrinter.Text(Sample(), showSames: false);

        text.Should().Contain("~ nfdeploy:svc:Service     kamailio@pcscf  [daemon-reload: /etc/systemd/system/kamailio@.service changed; " +
            "restart: /etc/systemd/system/kamailio@.service changed]");
        text.Should().Contain("(1 service restart)");
        text.Should().Contain("    + 2 to create\n").And.Contain("    ~ 2 to update\n").And.Contain("    - 1 to delete\n").And.Contain("    1 unchanged\n");
    }

    [Fact]
    public void Lab_hosts_of_the_lab_phase_show_before_their_resources_in_text_and_json()
    {
        var plan = Sample();
        var text = PlanPrinter.Text(plan, showSames: false);
        var lines = text.Split('\n').ToList();
        lines.FindIndex(l => l.Contains("- nfdeploy:lab:Host") && l.EndsWith(" pgw-9")).Should().Be(2, "a removed lab host comes first (after its heading)");
        lines.FindIndex(l => l.Contains("+ nfdeploy:lab:Host") && l.EndsWith(" pgw-4"))
            .Should().BeLessThan(lines.FindIndex(l => l.Contains("+ nfdeploy:fs:File") && l.Contains("/etc/open5gs/smf.yaml")));

        var steps = JsonNode.Parse(PlanPrinter.Json(plan))!["steps"]!.AsArray();
        steps.Select(s => ((string)s!["host"]!, (string)s["type"]!, (string)s["op"]!)).Should().Equal(
            ("pgw-9", "nfdeploy:lab:Host", "delete"),
            ("ims-1", "nfdeploy:lab:Host", "same"),
            ("ims-1", "nfdeploy:fs:File", "update"),
            ("ims-1", "nfdeploy:svc:Service", "update"),
            ("pgw-4", "nfdeploy:lab:Host", "create"),
            ("pgw-4", "nfdeploy:fs:File", "create"));
        var service = steps.Single(s => (string)s!["type"]! == "nfdeploy:svc:Service")!;
        ((bool)service["restart"]!).Should().BeTrue();
        service["changes"]!.AsArray().Select(c => (string)c!["name"]!).Should().Equal("daemon-reload", "restart");
        ((string)steps[0]!["urn"]!).Should().Be("urn:pulumi:lab::nf-deploy::nfdeploy:lab:Host::pgw-9");
    }
}
