using AwesomeAssertions;
using Deploy.Cli;

namespace Deploy.Integration.Tests;

/// <summary>
/// A brownfield host: Kamailio installed from the lab's mirror and configured by hand before nf-deploy ever ran. The
/// machine is made by a lab stack of its own (`adopt-lab`, network nfd-adopt, 10.217.7.0/24); the site under test
/// (`adopt`) lists it as an existing machine, as an operator's inventory would. Preview says adopt with the diff from the
/// hand config and changes nothing; up converges (and again changes nothing); destroy leaves the package installed and
/// puts the hand config back, with kamailio running on it.
/// </summary>
public sealed class AdoptionSpecs
{
    private const string Machine = "adopt-lab";
    private const string Stack = "adopt";
    private const string Ip = "10.217.7.21";
    private const string Gateway = "10.217.7.1";
    private const string Cfg = "/etc/kamailio/kamailio.cfg";
    private const string Kept = "/var/lib/nf-deploy/adopted" + Cfg;

    private static string Kamailio(string reply) => $$"""
        #!KAMAILIO
        debug=2
        log_stderror=no
        children=2
        listen=udp:{{Ip}}:5060
        loadmodule "sl.so"
        request_route {
            sl_send_reply("200", "{{reply}}");
        }

        """;

    private static LabSite Site()
    {
        var site = new LabSite("nfd-adopt", "10.217.7", Machine, groups: []);
        // the machine: a lab host with nothing of nf-deploy on it
        site.Write($"inventory/{Machine}.yaml", $$"""
            lab: { network: nfd-adopt, subnet: 10.217.7.0/24, gateway: {{Gateway}}, init: systemd }
            ssh: { user: root, key: .nf-deploy/lab/id_ed25519 }
            hosts:
              sip1: { address: {{Ip}}, lab: true, roles: [machine] }
            """);
        site.Write("roles/machine.yaml", "nfs: []\n"); // a host without roles is not the site's
        // the site under test: that machine as an existing host, named by its FQDN
        var stack = site.Read($"stacks/Pulumi.{Machine}.yaml");
        site.Write($"stacks/Pulumi.{Stack}.yaml", stack.Replace($"nf-deploy:inventory: {Machine}", $"nf-deploy:inventory: {Stack}"));
        site.Write($"inventory/{Stack}.yaml", $$"""
            ssh: { user: root, key: .nf-deploy/lab/id_ed25519 }
            hosts:
              sip1: { address: {{Ip}}, roles: [sip-edge], vars: { manage_hostname: true, hostname: sip1.example.net } }
            """);
        site.Write("roles/sip-edge.yaml", "nfs: [sip-edge]\n");
        site.Write("nf/sip-edge/nf.yaml", $$"""
            description: Kamailio answering every request, as the hand-configured edge did
            packages:
              - kamailio
            files:
              - path: {{Cfg}}
                content: {{System.Text.Json.JsonSerializer.Serialize(Kamailio("OK from nf-deploy"))}}
                validate: "kamailio -c -f %s"
                notify: [kamailio]
            services:
              - name: kamailio
                package: kamailio
            """);
        return site;
    }

    [Fact]
    public async Task A_hand_configured_kamailio_is_adopted_converged_and_handed_back_by_destroy()
    {
        using var site = Site();
        Task<LabSite.Run> Verb(Func<App, CancellationToken, Task<int>> verb) => site.RunAsync(verb);
        async Task<string> On(string script)
        {
            var result = await site.ShAtAsync("sip1", Ip, script);
            return result.Ok ? result.Stdout
                : throw new InvalidOperationException($"`{script}` failed ({result.ExitCode}): {result.Stderr}");
        }
        try
        {
            var machine = await site.Up();
            machine.Exit.Should().Be(0, machine.Out + machine.Err);

            // by hand, before nf-deploy: Kamailio from the lab's mirror through the proxy, a config of one's own, started
            await On($"""
                set -e
                export DEBIAN_FRONTEND=noninteractive
                /usr/lib/apt/apt-helper download-file http://{Gateway}:3142/nfd-mirror/kamailiodebkey.gpg /etc/apt/keyrings/kamailio.asc
                chmod 0644 /etc/apt/keyrings/kamailio.asc
                (echo 'deb [signed-by=/etc/apt/keyrings/kamailio.asc] http://{Gateway}:3142/nfd-mirror/kamailio56 bookworm main'
                 cat /etc/apt/sources.list) > /tmp/sources.list
                mv /tmp/sources.list /etc/apt/sources.list
                apt-get update -q >/dev/null
                apt-get install -y -q --no-install-recommends kamailio >/dev/null
                base64 -d > {Cfg} <<'EOF'
                {Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(Kamailio("OK by hand")))}
                EOF
                chown root:kamailio {Cfg}; chmod 0640 {Cfg}
                systemctl enable --quiet kamailio; systemctl restart kamailio; systemctl is-active --quiet kamailio
                """);
            var hand = await On($"sha256sum {Cfg}; stat -c '%U:%G %a' {Cfg}");
            var handPid = await On("systemctl show -p MainPID --value kamailio");

            // preview: adopt, the diff from the hand config; nothing changes on the host
            var preview = await Verb((a, t) => a.PreviewAsync(Stack, json: false, expectNoChanges: false, showSames: false, t));
            preview.Exit.Should().Be(0, preview.Out + preview.Err);
            preview.Out.Should().MatchRegex(@"= nfdeploy:\S+\s+kamailio  \(adopt: on the host before nf-deploy\)")
                .And.Contain($"{Cfg}  (adopt: on the host before nf-deploy)")
                .And.Contain("-    sl_send_reply(\"200\", \"OK by hand\");")
                .And.Contain("+    sl_send_reply(\"200\", \"OK from nf-deploy\");")
                .And.Contain("= 3 to adopt");
            (await On($"sha256sum {Cfg}; stat -c '%U:%G %a' {Cfg}")).Should().Be(hand, "a preview writes nothing");
            (await On($"test -e {Kept} && echo kept || echo none")).Trim().Should().Be("none");
            (await On("systemctl show -p MainPID --value kamailio")).Should().Be(handPid);

            // up converges: the hand config kept aside (root only), nf-deploy's in place, kamailio restarted on it
            var up = await Verb((a, t) => a.UpAsync(Stack, yes: true, json: false, t));
            up.Exit.Should().Be(0, up.Out + up.Err);
            (await On($"grep -c 'OK from nf-deploy' {Cfg}")).Trim().Should().Be("1");
            (await On($"sha256sum < {Kept} | cut -d' ' -f1; stat -c '%U:%G %a' {Kept} /var/lib/nf-deploy/adopted"))
                .Should().Be($"{hand.Split(' ')[0]}\n{hand.Split('\n')[1]}\nroot:root 700\n");
            (await On("systemctl show -p MainPID --value kamailio")).Should().NotBe(handPid);
            (await On("cat /etc/hostname")).Trim().Should().Be("sip1.example.net", "an FQDN given in the inventory");
            site.Read($".pulumi/stacks/nf-deploy/{Stack}.json").Should().Contain("\"adopted\"");

            var again = await Verb((a, t) => a.PreviewAsync(Stack, json: false, expectNoChanges: true, showSames: false, t));
            again.Exit.Should().Be(ExitCodes.Ok, "a second run changes nothing: " + again.Out + again.Err);
            var second = await Verb((a, t) => a.UpAsync(Stack, yes: true, json: false, t));
            second.Out.Should().Contain("sip1: ok, 0 changed");

            // destroy hands back what was adopted: the package stays, the hand config returns, kamailio runs on it
            var destroy = await Verb((a, t) => a.DestroyAsync(Stack, yes: true, t));
            destroy.Exit.Should().Be(0, destroy.Out + destroy.Err);
            (await On("dpkg-query -W -f='${db:Status-Abbrev}' kamailio")).Trim().Should().Be("ii", "an adopted package is never purged");
            (await On($"sha256sum {Cfg}; stat -c '%U:%G %a' {Cfg}")).Should().Be(hand);
            (await On($"test -e {Kept} && echo kept || echo none")).Trim().Should().Be("none");
            (await On("systemctl is-active kamailio; systemctl is-enabled kamailio")).Should().Be("active\nenabled\n");
        }
        finally
        {
            await site.RunAsync((a, t) => a.DestroyAsync(Stack, yes: true, t));
            await site.Destroy();
        }
    }
}
