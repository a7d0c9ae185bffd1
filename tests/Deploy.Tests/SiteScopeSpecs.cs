using AwesomeAssertions;
using Deploy.Core.Engine;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Resources;

namespace Deploy.Tests;

/// <summary>What templates and manifest strings see: one way to reach a group's hosts, and the names NFs declare
/// (identity:) instead of names the compiler knows.</summary>
public sealed class SiteScopeSpecs
{
    private static async Task<string> ErrorOf(SiteFixture site)
    {
        var act = () => site.RenderAsync();
        return (await act.Should().ThrowAsync<DeployException>()).Which.Message;
    }

    private static int LineOf(SiteFixture site, string file, string text) =>
        site.Read(file).Split('\n').Select((line, index) => (line, index)).First(x => x.line.Contains(text)).index + 1;

    private static string FileOf(HostDesired host, string path) => host.Resources.OfType<FileSpec>().Single(f => f.Path == path).Content;

    /// <summary>A small NF of the test's own, run first by a role: a file that shows what it sees, and a health check
    /// that shows the deployer's identity. <paramref name="identity"/> is its identity: section, if any.</summary>
    private static SiteFixture WithProbeNf(SiteFixture site, string identity, string role = "sip-proxy.yaml")
    {
        const string manifest = """
            description: an NF of the test
            IDENTITY
            files:
              - path: /etc/probe/names
                content: "{{ host.identity }} {{ groups.kamailio | array.map 'name' | array.join ',' }}\n"
            health:
              - command: { command: "echo {{ (deployer_tls).identity | sh }}" }

            """;
        site.Write("nf/probe/nf.yaml", manifest.Replace("IDENTITY", identity, StringComparison.Ordinal));
        var roleFile = $"roles/{role}";
        return site.Read(roleFile).Contains("nfs: [", StringComparison.Ordinal)
            ? site.Edit(roleFile, "nfs: [", "nfs: [probe, ")
            : site.Edit(roleFile, "nfs:\n", "nfs:\n  - probe\n");
    }

    [Fact]
    public async Task A_template_that_still_calls_nf_group_is_refused_at_its_line_with_groups_named_as_the_replacement()
    {
        using var site = SiteFixture.FromRepo();
        const string file = "templates/freediameter/freediameter.conf.sbn";
        site.Edit(file, "for p in groups[vars.fd_peer_group]", "for p in (nf_group vars.fd_peer_group)");

        var act = () => site.LoadAsync();

        var error = (await act.Should().ThrowAsync<DeployException>()).Which.Message;
        error.Should().Contain($"{file}:{LineOf(site, file, "nf_group")}: 'nf_group' is gone: a group's hosts are groups.<name>, " +
            "or groups[vars.<var>] when a var names the group");
    }

    [Fact]
    public async Task A_manifest_string_that_calls_nf_group_is_refused_even_where_it_would_never_render()
    {
        using var site = SiteFixture.FromRepo();
        const string file = "nf/kamailio/nf.yaml";
        site.Edit(file, "\npackages:\n", "\npackages:\n  - { name: \"{{ (nf_group 'pgw')[0].name }}\", when: \"{{ false }}\" }\n");

        var act = () => site.LoadAsync();

        var error = (await act.Should().ThrowAsync<DeployException>()).Which.Message;
        error.Should().Contain($"{file}:{LineOf(site, file, "nf_group")}: 'nf_group' is gone: a group's hosts are groups.<name>");
        error.Should().NotContain("   at ");
    }

    [Fact]
    public async Task A_manifest_that_still_reads_diameter_identity_is_refused_with_host_identity_named()
    {
        using var site = SiteFixture.FromRepo();
        const string file = "nf/freediameter/nf.yaml";
        site.Edit(file, "identity: \"{{ host.identity }}\"", "identity: \"{{ host.diameter_identity }}\"");

        var act = () => site.LoadAsync();

        var error = (await act.Should().ThrowAsync<DeployException>()).Which.Message;
        error.Should().Contain($"{file}:{LineOf(site, file, "diameter_identity")}: 'diameter_identity' is gone: write host.identity");
    }

    [Fact]
    public async Task A_group_is_reached_by_name_in_inventory_order_and_a_group_without_hosts_is_empty()
    {
        using var site = SiteFixture.FromRepo();
        WithProbeNf(site, "identity:\n  deployer: \"nf-deploy.{{ config.realm }}\"");
        site.Edit("nf/probe/nf.yaml", "groups.kamailio | array.map", "groups.kamailio | array.concat groups.nosuchgroup | array.map");

        var hosts = await site.RenderAsync();

        FileOf(hosts["kamailio-2"], "/etc/probe/names").Should().Be("kamailio-2 kamailio-1,kamailio-2,kamailio-3\n");
    }

    [Fact]
    public async Task A_new_nf_declares_its_hosts_identity_and_its_hosts_and_certificates_carry_it()
    {
        using var site = SiteFixture.FromRepo();
        WithProbeNf(site, "identity:\n  host: \"sbc-{{ host.name }}.{{ config.sipDomain }}\"\n" +
            "  deployer: \"nf-deploy.{{ config.realm }}\"");

        var hosts = await site.RenderAsync();

        FileOf(hosts["kamailio-1"], "/etc/probe/names").Should().StartWith("sbc-kamailio-1.lab.nf-deploy.test ");
        hosts["kamailio-1"].Health.Single(c => c.Nf == "probe").Args["command"].Should().Be("echo 'nf-deploy.lab.nf-deploy.test'");
        // a host no NF names is known by its name; the NFs of the repository keep theirs
        hosts["pgw-1"].Resources.OfType<CertificateSpec>().Single().Subject.Should().Be("pgw-1.lab.nf-deploy.test");
        FileOf(hosts["pcrf-1"], "/etc/freeDiameter/pcrf.conf").Should().Contain("ConnectPeer = \"pgw-1.lab.nf-deploy.test\"");
    }

    [Fact]
    public async Task The_diameter_identity_is_freediameters_declaration_so_changing_it_there_renames_every_peer_and_certificate()
    {
        using var site = SiteFixture.FromRepo();
        site.Edit("nf/freediameter/nf.yaml", "  host: \"{{ host.name }}.{{ config.realm }}\"",
            "  host: \"aaa.{{ host.name }}.{{ config.realm }}\"");

        var hosts = await site.RenderAsync();

        FileOf(hosts["pgw-2"], "/etc/freeDiameter/pgw.conf").Should().Contain("Identity = \"aaa.pgw-2.lab.nf-deploy.test\";")
            .And.Contain("ConnectPeer = \"aaa.pcrf-1.lab.nf-deploy.test\"");
        hosts["pcrf-1"].Resources.OfType<CertificateSpec>().Single().Subject.Should().Be("aaa.pcrf-1.lab.nf-deploy.test");
        hosts["pcrf-1"].Health.Single(c => c.Kind == "diameter").Args["server_name"].Should().Be("aaa.pcrf-1.lab.nf-deploy.test");
        // the IMS box runs no freeDiameter: its name is kamailio-instance's
        hosts["ims-1"].Resources.OfType<CertificateSpec>().Single().Subject.Should().Be("ims-1.lab.nf-deploy.test");
    }

    [Fact]
    public async Task The_deployer_introduces_itself_by_the_name_its_nfs_declare()
    {
        using var site = SiteFixture.FromRepo();
        foreach (var nf in new[] { "nf/freediameter/nf.yaml", "nf/kamailio-instance/nf.yaml" })
            site.Edit(nf, "  deployer: \"nf-deploy.{{ config.realm }}\"", "  deployer: \"health-probe.{{ config.realm }}\"");

        var hosts = await site.RenderAsync();

        hosts["pcrf-1"].Health.Single(c => c.Kind == "diameter").Args["origin_host"].Should().Be("health-probe.lab.nf-deploy.test");
    }

    [Fact]
    public async Task Two_nfs_that_name_the_deployer_differently_are_refused_at_the_second_with_the_first_named()
    {
        using var site = SiteFixture.FromRepo();
        WithProbeNf(site, "identity:\n  deployer: \"probe.{{ config.realm }}\"");

        var error = await ErrorOf(site);

        var line = LineOf(site, "nf/probe/nf.yaml", "deployer:");
        error.Should().Contain($"nf/probe/nf.yaml:{line}: the deployer's identity is 'probe.lab.nf-deploy.test' here but " +
            "'nf-deploy.lab.nf-deploy.test' for NF 'freediameter' (nf/freediameter/nf.yaml:");
    }

    [Fact]
    public async Task Two_nfs_that_name_one_host_differently_are_refused_with_both_places_named()
    {
        using var site = SiteFixture.FromRepo();
        WithProbeNf(site, "identity:\n  host: \"other-{{ host.name }}\"\n  deployer: \"nf-deploy.{{ config.realm }}\"", role: "ims.yaml");

        var error = await ErrorOf(site);

        const string file = "nf/kamailio-instance/nf.yaml";
        error.Should().Contain($"{file}:{LineOf(site, file, "  host: ")}: the host's identity is 'ims-1.lab.nf-deploy.test' here " +
            $"but 'other-ims-1' by identity.host of NF 'probe', nf/probe/nf.yaml:{LineOf(site, "nf/probe/nf.yaml", "  host: ")}: " +
            "a host has one identity (the name on its certificate) (rendering for host ims-1)");
        error.Split('\n').Count(line => line.Contains("a host has one identity", StringComparison.Ordinal)).Should().Be(1);
    }

    [Fact]
    public async Task An_nf_that_asks_for_deployer_tls_without_declaring_the_deployer_is_refused_at_its_line()
    {
        using var site = SiteFixture.FromRepo();
        WithProbeNf(site, "");

        var error = await ErrorOf(site);

        error.Should().Contain($"nf/probe/nf.yaml:{LineOf(site, "nf/probe/nf.yaml", "deployer_tls")}: deployer_tls: NF 'probe' " +
            "declares no deployer identity (identity: deployer: in nf/probe/nf.yaml)");
        error.Should().NotContain("   at ");
    }
}
