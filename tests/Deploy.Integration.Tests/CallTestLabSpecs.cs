using System.Text.Json.Nodes;
using AwesomeAssertions;

namespace Deploy.Integration.Tests;

/// <summary>The Kamailio DMQ cluster alone on its own lab network (stack `calls`, 10.218.0.0/24), for its call test.</summary>
public sealed class CallLab() : RolledOutSite(new LabSite(network: "nfd-calls", subnetPrefix: "10.218.0", stack: "calls", groups: ["kamailio"]));

/// <summary>The site proves it carries calls: SIPp from the controller registers through one node, calls through another
/// that knows the callee only through DMQ, and every node lists the registration.</summary>
public sealed class CallTestLabSpecs(CallLab lab) : IClassFixture<CallLab>
{
    private LabSite Site => lab.Site;

    private static readonly (string Name, string Ip)[] Nodes = [("kamailio-1", "10.218.0.11"), ("kamailio-2", "10.218.0.12"), ("kamailio-3", "10.218.0.13")];

    private Task<LabSite.Run> TestJson() => Site.RunAsync((a, ct) => a.TestAsync(Site.Stack, json: true, ct));

    private async Task<string> UlDump(string host) =>
        (await Site.ShAtAsync(host, Nodes.Single(n => n.Name == host).Ip, "kamcmd ul.dump")).Stdout;

    [Fact]
    public async Task The_dmq_call_test_passes_then_fails_naming_the_leg_when_a_node_does_not_replicate_and_passes_again_after_the_revert()
    {
        // the rollout's site health ran the call test once every node was up
        lab.FirstUp.Exit.Should().Be(0, lab.FirstUp.Out + lab.FirstUp.Err);
        lab.FirstUp.Out.Should().Contain("kamailio-1: kamailio call dmq-register-call: passed");

        // on demand, without a rollout: every step passed, each with its duration
        var run = await TestJson();
        run.Exit.Should().Be(0, run.Out + run.Err);
        var test = run.Json["tests"]!.AsArray().Should().ContainSingle().Which!.AsObject();
        ((bool)test["ok"]!).Should().BeTrue(test.ToJsonString());
        var steps = test["steps"]!.AsArray().Select(s => s!.AsObject()).ToList();
        steps.Select(s => (string)s["name"]!).Should().Contain([
            "register nfd-test-a through kamailio-1", "register nfd-test-b through kamailio-2",
            "call from nfd-test-b to nfd-test-a sent to kamailio-3", "nfd-test-a in ul.dump on every node", "callee",
            "unregister nfd-test-a", "unregister nfd-test-b"]);
        steps.Should().OnlyContain(s => (bool)s["ok"]! && (long)s["milliseconds"]! >= 0);
        steps.Single(s => (string)s["name"]! == "call from nfd-test-b to nfd-test-a sent to kamailio-3")["detail"]!.ToString().Should().Contain("SIP/2.0 200");
        // cleaned up: the test users are registered nowhere any more
        foreach (var (name, _) in Nodes) (await UlDump(name)).Should().NotContain("nfd-test-", $"{name} forgot the test users");

        // dmq_usrloc off on kamailio-3 (a template change through a host var): the rollout restarts it, and the call
        // test, run after every host is rolled out, fails at the call sent to kamailio-3 (404: it never learnt the callee)
        var inventory = Site.Read("inventory/calls.yaml");
        const string node3 = "kamailio-3: { address: 10.218.0.13, lab: { init: sysv } }";
        inventory.Should().Contain(node3);
        Site.Write("inventory/calls.yaml", inventory.Replace(node3, "kamailio-3: { address: 10.218.0.13, lab: { init: sysv }, vars: { dmq_usrloc: false } }"));
        var broken = await Site.Up();
        broken.Exit.Should().Be(1, broken.Out + broken.Err);
        broken.Out.Should().Contain("kamailio-3: ok", "a site check never fails or rolls back a host");
        broken.Out.Should().Contain("kamailio-1: FAILED")
            .And.Contain("step 'call from nfd-test-b to nfd-test-a sent to kamailio-3'")
            .And.Contain("got 'SIP/2.0 404 Not Found'");
        (await Site.ShAtAsync("kamailio-3", "10.218.0.13", "grep dmq_usrloc /etc/kamailio/kamailio.cfg")).Stdout.Should().Contain("\"enable\", 0");

        var failing = await TestJson();
        failing.Exit.Should().Be(1, failing.Out + failing.Err);
        var failed = failing.Json["tests"]!.AsArray().Single()!.AsObject();
        ((bool)failed["ok"]!).Should().BeFalse();
        failed["detail"]!.ToString().Should().Contain("step 'call from nfd-test-b to nfd-test-a sent to kamailio-3' (scenario calls/invite.xml.sbn to 10.218.0.13:5060)")
            .And.Contain("SIPp messages (last lines):");
        failed["steps"]!.AsArray().Where(s => (bool)s!["cleanup"]!).Should().OnlyContain(s => (bool)s!["ok"]!, "the registrations are removed even when the call failed");

        // reverted: rolled out again, the call test passes
        Site.Write("inventory/calls.yaml", inventory);
        var fixedUp = await Site.Up();
        fixedUp.Exit.Should().Be(0, fixedUp.Out + fixedUp.Err);
        fixedUp.Out.Should().Contain("kamailio-1: kamailio call dmq-register-call: passed");
        (await TestJson()).Exit.Should().Be(0);
    }
}
