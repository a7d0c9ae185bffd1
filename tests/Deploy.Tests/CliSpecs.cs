using AwesomeAssertions;
using Deploy.Cli;

namespace Deploy.Tests;

/// <summary>The verbs fail on bad site input before anything is locked, read or created.</summary>
public sealed class CliSpecs
{
    [Fact]
    public async Task Up_on_a_malformed_site_prints_one_error_and_touches_nothing()
    {
        using var site = SiteFixture.FromRepo();
        site.Write("roles/sip-proxy.yaml", "nfs: [kamailio\n");
        var o = new StringWriter();
        var app = new App(new Workspace(site.Dir) { Passphrase = () => SiteFixture.LabPassphrase }, o, new StringWriter(), 4, false);

        var act = () => app.UpAsync("lab", yes: true, json: false, TestContext.Current.CancellationToken);

        (await act.Should().ThrowAsync<Deploy.Core.Model.DeployException>()).Which.Message.Should().StartWith("roles/sip-proxy.yaml:");
        Directory.Exists(Path.Combine(site.Dir, ".pulumi")).Should().BeFalse("no lock and no state were written");
        Directory.Exists(Path.Combine(site.Dir, ".nf-deploy")).Should().BeFalse("no key was made and no host was contacted");
        o.ToString().Should().BeEmpty();
    }

    [Fact]
    public void The_project_is_found_from_a_subfolder()
    {
        using var site = SiteFixture.FromRepo();
        Workspace.Find(Path.Combine(site.Dir, "nf", "kamailio")).ProjectDir.Should().Be(site.Dir);
    }
}
