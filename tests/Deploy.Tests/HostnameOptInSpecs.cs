using System.Collections.Immutable;
using AwesomeAssertions;
using Deploy.Core.Engine;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Resources;

namespace Deploy.Tests;

/// <summary>
/// Brownfield hosts keep their names: nf-deploy sets a host's name only where the inventory opts in
/// (<c>manage_hostname: true</c> on all, a group or a host), to the inventory name or to an FQDN given as
/// <c>hostname:</c> (inventory names cannot hold dots). The lab inventory opts in, so the lab is named as before.
/// </summary>
public sealed class HostnameOptInSpecs
{
    private const string Kamailio1 = "  kamailio-1: { address: 10.211.0.11, lab: true }";

    private static HostnameSpec? Hostname(ImmutableDictionary<string, HostDesired> desired, string host) =>
        desired[host].Resources.OfType<HostnameSpec>().SingleOrDefault();

    [Fact]
    public async Task The_lab_inventory_opts_in_so_every_lab_host_is_named_after_its_inventory_name_as_before()
    {
        using var site = SiteFixture.FromRepo();

        var desired = await site.RenderAsync();

        desired.Keys.Should().NotBeEmpty();
        foreach (var host in desired.Keys) Hostname(desired, host)!.Hostname.Should().Be(host);
    }

    [Fact]
    public async Task A_host_whose_inventory_does_not_opt_in_keeps_its_own_name()
    {
        using var site = SiteFixture.FromRepo();
        site.Edit("inventory/lab.yaml", Kamailio1, Kamailio1.Replace("lab: true }", "lab: true, vars: { manage_hostname: false } }"));
        site.Edit("inventory/lab.yaml", "vars:\n  manage_hostname: true\n", "");

        var desired = await site.RenderAsync();

        Hostname(desired, "kamailio-1").Should().BeNull("no var opts it in: nf-deploy leaves the name alone");
        Hostname(desired, "kamailio-2").Should().BeNull("off by default");
    }

    [Fact]
    public async Task A_fully_qualified_name_is_given_explicitly_with_the_hostname_var()
    {
        using var site = SiteFixture.FromRepo();
        site.Edit("inventory/lab.yaml", Kamailio1, "  kamailio-1: { address: 10.211.0.11, lab: true, vars: { hostname: sip1.example.net } }");

        var desired = await site.RenderAsync();

        Hostname(desired, "kamailio-1")!.Hostname.Should().Be("sip1.example.net");
        Hostname(desired, "kamailio-2")!.Hostname.Should().Be("kamailio-2");
    }

    [Theory]
    [InlineData("hostname: \"sip_1.example.net\"", "host name 'sip_1.example.net' is not an RFC 1123 name")]
    [InlineData("hostname: \"sip1..example.net\"", "host name 'sip1..example.net' is not an RFC 1123 name")]
    [InlineData("hostname: \"-sip1.example.net\"", "host name '-sip1.example.net' is not an RFC 1123 name")]
    [InlineData("hostname: \"sip1; touch /tmp/x\"", "host name 'sip1; touch /tmp/x' is not an RFC 1123 name")]
    [InlineData("hostname: [a, b]", "'hostname' must be a host name (a string)")]
    [InlineData("manage_hostname: \"yes please\"", "'manage_hostname' must be true or false")]
    public async Task A_bad_hostname_var_is_refused_with_its_file_and_line(string var, string message)
    {
        using var site = SiteFixture.FromRepo();
        site.Edit("inventory/lab.yaml", Kamailio1, "  kamailio-1: { address: 10.211.0.11, lab: true, vars: { " + var + " } }");
        var line = site.Read("inventory/lab.yaml").Split('\n').ToList().FindIndex(l => l.Contains(var, StringComparison.Ordinal)) + 1;

        var act = () => site.RenderAsync();

        (await act.Should().ThrowAsync<SiteException>()).Which.Message.Should().StartWith($"inventory/lab.yaml:{line}: {message}");
    }

    [Theory]
    [InlineData("kamailio-1", true)]
    [InlineData("sip1.example.net", true)]
    [InlineData("a", true)]
    [InlineData("1-2.3", true)]
    [InlineData("", false)]
    [InlineData("sip1.", false)]
    [InlineData("sip1-.example", false)]
    [InlineData("sip_1", false)]
    [InlineData("sip 1", false)]
    [InlineData("sip1\nx", false)]
    public void Host_names_follow_rfc_1123(string name, bool ok) => (Shapes.HostName(name) is null).Should().Be(ok);

    [Fact]
    public void Labels_of_64_characters_and_names_over_253_are_refused()
    {
        Shapes.HostName(new string('a', 63)).Should().BeNull();
        Shapes.HostName(new string('a', 64)).Should().NotBeNull();
        var long253 = string.Join('.', Enumerable.Repeat(new string('a', 62), 4)) + ".a"; // 4 * 63 + 1 = 253
        long253.Length.Should().Be(253);
        Shapes.HostName(long253).Should().BeNull();
        Shapes.HostName(long253 + "a").Should().NotBeNull();
    }
}
