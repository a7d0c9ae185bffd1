using System.Text.RegularExpressions;
using AwesomeAssertions;

namespace Deploy.Tests;

/// <summary>
/// A real up over SSH to this machine (sshd on 127.0.0.1): one directory under /tmp and a command health check that
/// prints the site's secret. The host is named as this machine is (every host's name is a resource: any other name
/// would rename the machine), and a preview proves that the directory is all the up would change before it runs. Its host log holds the read and apply scripts' output with the secret masked, the summary
/// tells the first run from the next, and on a terminal the live table shows the host through read and apply to done.
/// </summary>
public sealed class LoopbackUpSpecs : IDisposable
{
    private const string Stack = "loop";
    private const string Secret = "Lo0pback-Secret-5521";
    private readonly string _marker = "/tmp/nfd-loopback-" + Guid.NewGuid().ToString("N")[..8];
    private readonly SiteFixture _site = new();
    private readonly LoopbackSshd? _sshd;

    // this machine's name, when the kernel and /etc/hostname agree on a plain host name (else the spec does not run)
    private static readonly string? Self = File.ReadAllText("/proc/sys/kernel/hostname").Trim() is var name
        && File.Exists("/etc/hostname") && File.ReadAllText("/etc/hostname").Trim() == name
        && Regex.IsMatch(name, "^[a-z0-9][a-z0-9-]{0,62}$") ? name : null;

    public LoopbackUpSpecs()
    {
        var key = Path.Combine(_site.Dir, "key");
        Directory.CreateDirectory(_site.Dir);
        using (var keygen = System.Diagnostics.Process.Start("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key])) keygen.WaitForExit();
        Directory.CreateDirectory(Path.Combine(_site.Dir, "sshd"));
        _sshd = LoopbackSshd.Start(Path.Combine(_site.Dir, "sshd"), key + ".pub");
        _site.Write("Pulumi.yaml", File.ReadAllText(Path.Combine(SiteFixture.RepoRoot, "Pulumi.yaml")))
            .Write($"stacks/Pulumi.{Stack}.yaml", "config:\n  nf-deploy:inventory: loop\n")
            .Write("inventory/loop.yaml", $"ssh: {{ user: root, key: key, port: {_sshd?.Port ?? 1} }}\nhosts:\n  {Self ?? "self"}: {{ address: 127.0.0.1 }}\n" +
                $"groups:\n  g: {{ hosts: [{Self ?? "self"}], roles: [marker] }}\n")
            .Write("roles/marker.yaml", "description: one directory\nnfs: [marker]\n")
            .Write("nf/marker/nf.yaml", $"description: one directory\ndirectories:\n  - {{ path: {_marker} }}\n" +
                "health:\n  - command: { command: \"echo the password is {{ config.kamailioDbPassword | sh }}\", expect: \"password\" }\n");
    }

    public void Dispose()
    {
        _sshd?.Dispose();
        _site.Dispose();
        if (Directory.Exists(_marker)) Directory.Delete(_marker, recursive: true);
    }

    [Fact]
    public async Task An_up_over_ssh_logs_every_scripts_output_with_the_secret_masked_and_shows_its_host_live()
    {
        Assert.SkipWhen(_sshd is null, $"{LoopbackSshd.Binary} is not installed (Debian's openssh-server)");
        Assert.SkipWhen(Self is null, "this machine's name is no plain host name, or /etc/hostname says another");
        var self = Self!;
        (await DeployProcess.RunAsync(_site.Dir, null, "config", "set", "kamailioDbPassword", Secret, "--secret", "--stack", Stack)).Exit.Should().Be(0);
        var preview = await DeployProcess.RunAsync(_site.Dir, null, "preview", "--stack", Stack, "--json");
        using (var plan = System.Text.Json.JsonDocument.Parse(preview.Stdout))
            plan.RootElement.GetProperty("steps").EnumerateArray().Where(st => st.GetProperty("op").GetString() != "same")
                .Select(st => st.GetProperty("name").GetString()).Should().Equal([_marker], "nothing of this machine but the spec's folder may change");

        var (exit, stdout, stderr) = await DeployProcess.RunAsync(_site.Dir, null, "up", "--stack", Stack, "--yes");

        exit.Should().Be(0, stdout + stderr);
        Directory.Exists(_marker).Should().BeTrue();
        (stdout + stderr).Should().NotContain(Secret);
        stderr.Should().MatchRegex(@$"(?m)^{self}: reading facts and 1 resources$").And.MatchRegex(@$"(?m)^{self}: done in [0-9.]+s \(1 changed\)$");
        stdout.Should().MatchRegex(@$"(?m)^{self}: ok, 1 changed, healthy$").And.Contain("Services: 0 restarts, 0 first starts\n");
        var run = Regex.Match(stdout, @"(?m)^Logs: (\S+)/<host>\.log").Groups[1].Value;
        var log = File.ReadAllText(Path.Combine(_site.Dir, run, self + ".log"));
        log.Should().NotContain(Secret).And.Contain("the password is [secret]", "the health check's output, masked")
            .And.MatchRegex(@"\[apply\] 0/1 \+ nfdeploy:\S+ " + Regex.Escape(_marker))
            .And.MatchRegex(@"(?m)^\S+ script: exit 0 after").And.Contain("--- stdout\n");

        var (again, screen) = await TerminalProcess.RunAsync(_site.Dir, null, null, "up", "--stack", Stack, "--yes");

        again.Should().Be(0, screen);
        var text = Regex.Replace(screen, @"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r", "");
        text.Should().MatchRegex($@"│ {self}\s*│ \S+ read\s*│ facts and 1 resources", "the read phase shows")
            .And.MatchRegex($@"│ {self}\s*│ ✓ done\s*│ 0 changed", "and the host's end").And.NotContain(Secret);
    }
}
