using AwesomeAssertions;

namespace Deploy.Integration.Tests;

/// <summary>The IMS box carries messages: SIPp from the controller registers two UEs through the P-CSCF, the
/// registrations reach the S-CSCF (Path through the P-CSCF), and a MESSAGE between them goes through.</summary>
[Collection("ims")]
public sealed class ImsCallTestSpecs(ImsLab lab)
{
    private LabSite Site => lab.Site;

    [Fact]
    public async Task The_ims_call_test_registers_through_the_p_cscf_at_the_s_cscf_and_a_message_between_two_ues_goes_through()
    {
        lab.FirstUp.Exit.Should().Be(0, lab.FirstUp.Out + lab.FirstUp.Err);
        lab.FirstUp.Out.Should().Contain("ims-1: kamailio-instance@pcscf call ims-register-message via pcscf: passed");

        var run = await Site.RunAsync((a, ct) => a.TestAsync(Site.Stack, json: true, ct));
        run.Exit.Should().Be(0, run.Out + run.Err);
        var test = run.Json["tests"]!.AsArray().Should().ContainSingle().Which!.AsObject();
        ((bool)test["ok"]!).Should().BeTrue(test.ToJsonString());
        var steps = test["steps"]!.AsArray().Select(s => s!.AsObject()).ToDictionary(s => (string)s["name"]!);
        steps.Keys.Should().Contain(["register nfd-ims-a through pcscf", "nfd-ims-a registered at scscf", "register nfd-ims-b through pcscf",
            "MESSAGE from nfd-ims-b to nfd-ims-a through pcscf", "callee", "unregister nfd-ims-a", "unregister nfd-ims-b"]);
        steps.Values.Should().OnlyContain(s => (bool)s["ok"]!);
        steps["MESSAGE from nfd-ims-b to nfd-ims-a through pcscf"]["detail"]!.ToString().Should().Contain("SIP/2.0 200");

        // the registrations were kept by the S-CSCF, not the P-CSCF, and are gone after the cleanup
        (await lab.Sh("kamcmd -s unix:/run/kamailio-pcscf/kamailio_ctl ul.dump")).Should().NotContain("nfd-ims-");
        (await lab.Sh("kamcmd -s unix:/run/kamailio-scscf/kamailio_ctl ul.dump")).Should().NotContain("nfd-ims-");
    }
}
