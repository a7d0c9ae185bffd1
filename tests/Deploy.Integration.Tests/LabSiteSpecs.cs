using AwesomeAssertions;

namespace Deploy.Integration.Tests;

/// <summary>The fixture itself (no lab hosts): each spec's lab keeps only its inventory groups, text unchanged.</summary>
public sealed class LabSiteSpecs
{
    [Fact]
    public void A_lab_site_keeps_only_the_chosen_groups_and_their_hosts_with_their_text_unchanged()
    {
        using var it = new LabSite(groups: ["kamailio", "pcrf", "pgw"]);
        var inv = it.Read("inventory/it.yaml");
        inv.Should().Contain("kamailio-2: { address: 10.212.0.12, lab: true, ssh: { user: deploy } }").And.Contain("pcrf-2: { address: 10.212.0.32, lab: true }")
            .And.Contain("  pgw:\n    count: pgwCount").And.NotContain("ims-1:").And.NotContain("roles: [ims]");

        using var ims = new LabSite("nfd-ims", "10.215.0", "ims", groups: ["ims"]);
        var only = ims.Read("inventory/ims.yaml");
        only.Should().Contain("ims-1: { address: 10.215.0.21, lab: true }").And.Contain("vars: { listen_interface: eth0 }")
            .And.NotContain("kamailio-1").And.NotContain("pcrf-1").And.NotContain("  pgw:").And.Contain("network: nfd-ims");
    }
}
