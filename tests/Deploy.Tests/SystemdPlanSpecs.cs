using AwesomeAssertions;
using Deploy.Core.Engine;
using Deploy.Core.Resources;
using Deploy.Resources;

namespace Deploy.Tests;

/// <summary>Services on systemd in the plan, pure: unit files make systemd reload first, a service that must not run is
/// stopped and disabled (also right after its package is installed), and nothing else.</summary>
public sealed class SystemdPlanSpecs
{
    private static readonly ServiceProvider Services = new();
    private static readonly Deploy.Core.Model.HostFacts Systemd = Deploy.Core.Model.HostFacts.Assumed("ims-1", "10.0.0.1", init: "systemd");
    private static readonly Deploy.Core.Model.HostFacts Sysv = Deploy.Core.Model.HostFacts.Assumed("ims-1", "10.0.0.1");

    private static LiveState Live(string active, string enabled, string masked = "0") =>
        LiveState.Of([new("active", active), new("enabled", enabled), new("masked", masked), new("pid", "42")]);

    private static PlanStep Step(ResourceSpec r, StepOp op) => new("ims-1", r.Urn("lab"), r.Type, r.Name, op, [], r, r.Identity);

    private static FileSpec Unit(string path, params string[] notify) =>
        new(path, "[Service]\n", "root", "root", "0644") { Host = "ims-1", Name = path, Notify = [.. notify] };

    [Fact]
    public void A_changed_template_unit_makes_each_instance_reload_systemd_then_restart_once()
    {
        var unit = Unit("/etc/systemd/system/kamailio@.service", "kamailio@pcscf", "kamailio@icscf");
        var pcscf = new ServiceSpec("kamailio@pcscf") { Host = "ims-1", Name = "kamailio@pcscf" };
        var icscf = new ServiceSpec("kamailio@icscf") { Host = "ims-1", Name = "kamailio@icscf" };

        var steps = TriggerPlanner.Propagate([Step(unit, StepOp.Update), Step(pcscf, StepOp.Same), Step(icscf, StepOp.Same)], Systemd).ToList();

        foreach (var svc in steps.Skip(1))
        {
            svc.Op.Should().Be(StepOp.Update);
            svc.Triggers.Select(t => t.Name).Should().Equal("daemon-reload", "restart");
            svc.Triggers[0].Reason.Should().Be("/etc/systemd/system/kamailio@.service changed");
        }
    }

    [Fact]
    public void A_drop_in_of_a_unit_reloads_systemd_and_an_init_script_host_never_does()
    {
        var dropIn = Unit("/etc/systemd/system/freediameter.service.d/limits.conf");
        var fd = new ServiceSpec("freediameter") { Host = "ims-1", Name = "freediameter" };

        TriggerPlanner.Propagate([Step(dropIn, StepOp.Create), Step(fd, StepOp.Same)], Systemd).Last()
            .Triggers.Select(t => t.Name).Should().Equal("daemon-reload");
        TriggerPlanner.Propagate([Step(dropIn, StepOp.Create), Step(fd, StepOp.Same)], Sysv).Last()
            .Op.Should().Be(StepOp.Same);
        SystemdUnits.Configures("/etc/systemd/system/kamailio.service", "kamailio@pcscf").Should().BeFalse();
        SystemdUnits.Configures("/etc/default/kamailio-pcscf", "kamailio@pcscf").Should().BeFalse();
        SystemdUnits.Configures("/lib/systemd/system/kamailio@.service", "kamailio@pcscf").Should().BeTrue();
    }

    [Fact]
    public void A_service_that_must_not_run_is_stopped_and_disabled_and_a_stopped_one_is_left_alone()
    {
        var stock = new ServiceSpec("kamailio") { Host = "ims-1", Name = "kamailio", Running = false, Enabled = false };

        var d = Services.Diff(stock, Live("1", "1"));
        d.Op.Should().Be(StepOp.Update);
        d.Changes.Select(c => (c.Name, c.Before, c.After)).Should().Equal(("running", "yes", "no"), ("enabled", "yes", "no"));
        Services.Diff(stock, Live("0", "0")).Should().Be(ResourceDiff.Same);
        Services.Diff(stock, null).Should().Be(ResourceDiff.Same, "no unit, nothing to stop");
        ServiceProvider.ApplyScript(stock, d).Should().Contain("action=stop;").And.Contain("boot='disable'");
    }

    [Fact]
    public void A_masked_service_is_masked_and_unmasked_when_it_must_run_again()
    {
        var masked = new ServiceSpec("kamailio") { Host = "ims-1", Name = "kamailio", Running = false, Enabled = false, Masked = true };
        Services.Diff(masked, Live("0", "0")).Changes.Select(c => c.Name).Should().Equal("masked");
        Services.Diff(masked, Live("0", "0", masked: "1")).Should().Be(ResourceDiff.Same);

        var running = new ServiceSpec("kamailio") { Host = "ims-1", Name = "kamailio" };
        var d = Services.Diff(running, Live("0", "0", masked: "1"));
        d.Changes.Select(c => c.Name).Should().Equal("running", "masked", "enabled");
        ServiceProvider.ApplyScript(running, d).Should().Contain("boot='unmask enable'").And.Contain("action=start;");
    }

    [Fact]
    public void A_package_installed_by_the_run_that_starts_a_service_which_must_not_run_is_followed_by_a_stop()
    {
        var pkg = new PackageSpec("kamailio") { Host = "ims-1", Name = "kamailio" };
        var stock = new ServiceSpec("kamailio") { Host = "ims-1", Name = "kamailio", Package = "kamailio", Running = false, Enabled = false };

        var steps = TriggerPlanner.Propagate([Step(pkg, StepOp.Create), Step(stock, StepOp.Same)], Systemd).ToList();

        steps[1].Op.Should().Be(StepOp.Update);
        steps[1].Restarts.Should().BeFalse("nothing is started");
        steps[1].Changes.Should().Equal(new PropertyChange("running", null, "no (package kamailio newly installed starts it)"),
            new PropertyChange("enabled", null, "no (package kamailio newly installed enables it)"));
        ServiceProvider.ApplyScript(stock, new ResourceDiff(StepOp.Update, steps[1].Changes)).Should().Contain("action=stop;").And.Contain("boot='disable'");
        TriggerPlanner.Propagate([Step(pkg, StepOp.Same), Step(stock, StepOp.Same)], Systemd).Last().Op.Should().Be(StepOp.Same);
    }
}
