using System.Diagnostics;
using AwesomeAssertions;

namespace Deploy.Integration.Tests;

/// <summary>`destroy` leaves no lab container, network or state behind.</summary>
public sealed class DestroySpecs
{
    private static async Task<string> DockerAsync(params string[] args)
    {
        var psi = new ProcessStartInfo("docker") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var o = await p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        await p.WaitForExitAsync(TestContext.Current.CancellationToken);
        return o.Trim();
    }

    [Fact]
    public async Task Destroy_removes_the_lab_hosts_their_network_and_the_stack_state()
    {
        using var site = new LabSite("nfd-it-destroy", "10.214.0", "it-destroy", groups: ["kamailio", "pcrf", "pgw"]);
        // a one-host site with a small NF, so the spec is quick
        site.Write("nf/motd/nf.yaml", """
            description: message of the day
            files:
              - path: /etc/motd
                content: "{{ host.name }} of {{ site.stack }}\n"
            """);
        site.Write("roles/greeter.yaml", "nfs: [motd]\n");
        site.Write($"inventory/{site.Stack}.yaml", """
            lab: { network: nfd-it-destroy, subnet: 10.214.0.0/24, gateway: 10.214.0.1 }
            ssh: { user: root, key: .nf-deploy/lab/id_ed25519 }
            hosts:
              solo: { address: 10.214.0.21, lab: true, roles: [greeter] }
            """);
        try
        {
            var up = await site.Up();
            up.Exit.Should().Be(0, up.Out + up.Err);
            (await DockerAsync("ps", "-a", "--filter", "label=nf-deploy.stack=it-destroy", "--format", "{{.Names}}")).Should().Contain("nfd-it-destroy-solo");
            File.Exists(Path.Combine(site.Dir, ".pulumi", "stacks", "nf-deploy", "it-destroy.json")).Should().BeTrue();

            var destroy = await site.Destroy();
            destroy.Exit.Should().Be(0, destroy.Out + destroy.Err);

            (await DockerAsync("ps", "-a", "--filter", "name=nfd-it-destroy-solo", "--format", "{{.Names}}")).Should().BeEmpty();
            (await DockerAsync("network", "ls", "--filter", "name=nfd-it-destroy", "--format", "{{.Name}}")).Should().BeEmpty();
            File.Exists(Path.Combine(site.Dir, ".pulumi", "stacks", "nf-deploy", "it-destroy.json")).Should().BeFalse();
            File.Exists(Path.Combine(site.Dir, ".pulumi", "locks", "nf-deploy", "it-destroy.json")).Should().BeFalse();
            File.ReadAllText(Path.Combine(site.Dir, ".nf-deploy", "known_hosts")).Should().NotContain("10.214.0.21", "the pin of a destroyed lab host is dropped");
        }
        finally
        {
            await site.Destroy();
        }
    }
}
