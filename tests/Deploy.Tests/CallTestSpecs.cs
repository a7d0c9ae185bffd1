using System.Collections.Immutable;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Xml.Linq;
using AwesomeAssertions;
using Deploy.Core.Model;
using Deploy.Core.Transport;
using Deploy.Resources.Health;
using Deploy.Resources.Health.Calls;

namespace Deploy.Tests;

/// <summary>Call tests: declared in an NF's health, compiled per site (scenarios rendered, values escaped), and run with
/// SIPp from the controller, a failure saying which step got what.</summary>
public sealed class CallTestSpecs
{
    private static async Task<string> ErrorOf(SiteFixture site)
    {
        var act = () => site.RenderAsync();
        return (await act.Should().ThrowAsync<DeployException>()).Which.Message;
    }

    private static int LineOf(SiteFixture site, string file, string text) =>
        site.Read(file).Split('\n').Select((l, i) => (l, i)).First(x => x.l.Contains(text)).i + 1;

    [Fact]
    public async Task The_kamailio_cluster_declares_one_call_test_registering_through_two_nodes_and_calling_through_the_third()
    {
        using var site = SiteFixture.FromRepo();
        var hosts = await site.RenderAsync();
        hosts["kamailio-2"].Health.Should().NotContain(c => c.Kind == "call");
        hosts["kamailio-3"].Health.Should().NotContain(c => c.Kind == "call");
        var check = hosts["kamailio-1"].Health.Should().ContainSingle(c => c.Kind == "call").Which;
        check.CallTest.Should().BeTrue("its kind is a call test: ./deploy test runs it too");
        check.SiteWide.Should().BeTrue("a call test runs once every host is rolled out and never rolls a host back");
        check.Describe().Should().Be("kamailio call dmq-register-call");

        var test = CallTest.From(check);
        test.Steps.Select(s => s.To).Should().Equal(null, "10.211.0.11:5060", "10.211.0.12:5060", "10.211.0.13:5060", null);
        test.Steps[0].Background.Should().BeTrue();
        test.Steps[1].Contact.Should().Be("callee");
        test.Steps[3].Name.Should().Be("call from nfd-test-b to nfd-test-a sent to kamailio-3");
        test.Steps[4].On.Should().Equal("kamailio-1", "kamailio-2", "kamailio-3");
        test.Cleanup.Select(s => s.Scenario).Should().Equal("calls/unregister.xml.sbn", "calls/unregister.xml.sbn");
        // the scenarios are rendered for the site: its SIP domain, well-formed XML
        foreach (var s in test.Steps.Concat(test.Cleanup).Where(s => s.IsSipp))
        {
            s.Xml.Should().Contain("lab.nf-deploy.test");
            XDocument.Parse(s.Xml!).Root!.Name.LocalName.Should().Be("scenario");
        }
        test.Cleanup[0].Xml.Should().Contain("Contact: *").And.Contain("Expires: 0");
    }

    [Fact]
    public async Task The_ims_box_declares_a_call_test_through_its_p_cscf_whose_registrations_must_reach_the_s_cscf()
    {
        using var site = SiteFixture.FromRepo();
        var check = (await site.RenderAsync())["ims-1"].Health.Should().ContainSingle(c => c.Kind == "call").Which;
        check.Nf.Should().Be("kamailio-instance@pcscf");
        var test = CallTest.From(check);
        test.Steps.Where(s => s.IsSipp && !s.Background).Select(s => s.To).Should().OnlyContain(to => to == "10.211.0.21:5060");
        test.Steps.Single(s => s.Command is not null).Command.Should().Be("kamcmd -s unix:/run/kamailio-scscf/kamailio_ctl ul.dump");
        test.Steps[^1].Xml.Should().Contain("MESSAGE sip:[service]@lab.nf-deploy.test SIP/2.0");
    }

    [Fact]
    public async Task A_site_value_reaches_a_scenario_as_escaped_data_never_as_markup_or_a_header_line()
    {
        using var site = SiteFixture.FromRepo();
        site.Edit("nf/kamailio/nf.yaml", "call_test_expires: 300", "call_test_expires: \"300]]></send><send>x\\r\\nX-Injected: 1\"");
        var check = (await site.RenderAsync())["kamailio-1"].Health.Single(c => c.Kind == "call");
        var register = CallTest.From(check).Steps[1].Xml!;
        register.Should().Contain("Expires: 300]]&gt;&lt;/send&gt;&lt;send&gt;x&#13;&#10;X-Injected: 1");
        register.Should().NotContain("\nX-Injected");
        XDocument.Parse(register).Root!.Elements("send").Should().ContainSingle();
    }

    [Fact]
    public async Task A_scenario_that_is_not_a_template_of_the_site_is_refused_with_its_line()
    {
        using var site = SiteFixture.FromRepo();
        site.Edit("nf/kamailio/nf.yaml", "sipp: calls/invite.xml.sbn", "sipp: ../../../etc/passwd");
        var line = LineOf(site, "nf/kamailio/nf.yaml", "- scope: site");
        (await ErrorOf(site)).Should().Contain($"nf/kamailio/nf.yaml:{line}").And.Contain("call test scenario '../../../etc/passwd' is not a template of the site");
    }

    [Fact]
    public async Task A_call_test_must_be_site_health()
    {
        using var site = SiteFixture.FromRepo();
        site.Edit("nf/kamailio/nf.yaml", "  - scope: site\n    when: \"{{ host.name == (nf_hosts 'kamailio')[0].name }}\"\n    call:",
            "  - when: \"{{ host.name == (nf_hosts 'kamailio')[0].name }}\"\n    call:");
        var line = LineOf(site, "nf/kamailio/nf.yaml", "    call:");
        (await ErrorOf(site)).Should().Contain($"nf/kamailio/nf.yaml:{line}: a call test depends on every node of the site: declare it with scope: site");
    }

    /// <summary>A SIPp on loopback standing in for a node that refuses registrations (404 to REGISTER).</summary>
    private static async Task<(Process Node, int Port)> RefusingNodeAsync(string dir)
    {
        int port;
        using (var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp)) { s.Bind(new IPEndPoint(IPAddress.Loopback, 0)); port = ((IPEndPoint)s.LocalEndPoint!).Port; }
        var xml = Path.Combine(dir, "refuse.xml");
        await File.WriteAllTextAsync(xml, """
            <?xml version="1.0" encoding="UTF-8" ?>
            <scenario name="refuse">
              <recv request="REGISTER"/>
              <send><![CDATA[

                SIP/2.0 404 Not Found
                [last_Via:]
                [last_From:]
                [last_To:];tag=[pid]SIPpTag01[call_number]
                [last_Call-ID:]
                [last_CSeq:]
                Content-Length: 0

              ]]></send>
            </scenario>
            """);
        var psi = new ProcessStartInfo("sipp") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in new[] { "-sf", xml, "-i", "127.0.0.1", "-p", port.ToString(), "-m", "1", "-nostdin", "-timeout", "20s" }) psi.ArgumentList.Add(a);
        var node = Process.Start(psi)!;
        await Task.Delay(500);
        return (node, port);
    }

    [Fact]
    public async Task A_failed_step_says_which_step_of_which_test_failed_what_the_node_answered_and_shows_the_sipp_log()
    {
        using var site = SiteFixture.FromRepo();
        var dir = Directory.CreateTempSubdirectory("nfd-call-spec-").FullName;
        var (node, port) = await RefusingNodeAsync(dir);
        try
        {
            var declared = (await site.RenderAsync())["kamailio-1"].Health.Single(c => c.Kind == "call");
            var register = declared.Args.Where(a => a.Key.StartsWith("steps.02.", StringComparison.Ordinal) && !a.Key.EndsWith(".to", StringComparison.Ordinal) && !a.Key.EndsWith(".name", StringComparison.Ordinal) && !a.Key.EndsWith(".contact", StringComparison.Ordinal));
            var check = declared with
            {
                Args = ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, register
                    .Append(new("name", "refused")).Append(new("steps.02.to", $"127.0.0.1:{port}")).Append(new("steps.02.name", "register through the node"))),
            };
            var result = await new HealthChecker().CheckAsync(check, new NoHost(), TimeSpan.Zero, TestContext.Current.CancellationToken);

            result.Healthy.Should().BeFalse();
            result.Detail.Should().StartWith($"call test refused: step 'register through the node' (scenario calls/register.xml.sbn to 127.0.0.1:{port}) of kamailio (nf.yaml:")
                .And.Contain("failed: expected 100 or 200 at scenario message 1, got 'SIP/2.0 404 Not Found'")
                .And.Contain("SIPp messages (last lines):").And.Contain("REGISTER sip:lab.nf-deploy.test SIP/2.0");
            result.Steps.Should().ContainSingle().Which.Ok.Should().BeFalse();
        }
        finally
        {
            if (!node.HasExited) node.Kill();
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task A_cluster_member_this_run_did_not_reach_is_named_and_left_out_of_the_every_node_check_not_blamed_on_the_others()
    {
        using var site = SiteFixture.FromRepo();
        var declared = (await site.RenderAsync())["kamailio-1"].Health.Single(c => c.Kind == "call");
        // only the step that reads ul.dump on every node (kamailio-1..3); kamailio-3 is down in this run
        var prefix = declared.Args.Single(a => a.Key.EndsWith(".name", StringComparison.Ordinal) && a.Value.EndsWith("in ul.dump on every node", StringComparison.Ordinal)).Key[..^"name".Length];
        var check = declared with
        {
            Args = ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal,
                declared.Args.Where(a => a.Key.StartsWith(prefix, StringComparison.Ordinal) || !a.Key.StartsWith("steps.", StringComparison.Ordinal) && !a.Key.StartsWith("cleanup.", StringComparison.Ordinal))
                    .Append(new(prefix + "to", "127.0.0.1:5060"))), // the controller's side of the test: loopback
        };
        var dumped = new Answering("kamailio-1", "AoR: nfd-test-a@lab.nf-deploy.test");
        var reached = new SiteTransport(dumped, new Dictionary<string, IHostTransport> { ["kamailio-1"] = dumped, ["kamailio-2"] = new Answering("kamailio-2", "AoR: nfd-test-a") });

        var result = await new HealthChecker().CheckAsync(check, reached, TimeSpan.Zero, TestContext.Current.CancellationToken);

        result.Healthy.Should().BeTrue(result.Detail);
        result.Steps.Should().ContainSingle().Which.Detail.Should().Be("matched on kamailio-1, kamailio-2 (not reached in this run, not checked: kamailio-3)");

        var none = new SiteTransport(new NoHost(), new Dictionary<string, IHostTransport>());
        var alone = await new HealthChecker().CheckAsync(check, none, TimeSpan.Zero, TestContext.Current.CancellationToken);
        alone.Healthy.Should().BeFalse("no member reached proves nothing");
        alone.Detail.Should().Contain("no host of kamailio-1, kamailio-2, kamailio-3 is reached in this run");
    }

    private sealed class Answering(string host, string stdout) : IHostTransport
    {
        public string HostName => host;
        public Task<ExecResult> RunAsync(string script, CancellationToken ct) => Task.FromResult(new ExecResult(0, stdout, ""));
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed class NoHost : IHostTransport
    {
        public string HostName => "none";
        public Task<ExecResult> RunAsync(string script, CancellationToken ct) => throw new InvalidOperationException("no host in this spec");
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
