using System.Collections.Concurrent;
using System.Diagnostics;
using AwesomeAssertions;

namespace Deploy.Integration.Tests;

/// <summary>
/// A secret set with `config set --secret` reaches the file that needs it on the hosts (0600) and nowhere else in
/// clear: not the stack file, any output of preview/up/refresh (text, --json, verbose log), the state, the
/// controller's files, nor the process lists of the controller and the hosts while the run goes on.
/// </summary>
[Collection("lab")]
public sealed class SecretExposureSpecs(RolledOutLab lab)
{
    private LabSite Site => lab.Site;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private static readonly Dictionary<string, string> Passphrase = new() { ["PULUMI_CONFIG_PASSPHRASE"] = LabSite.LabPassphrase };
    private const string SecretFile = "/etc/kamailio/nfd-noc-token.conf";

    private Task<(int Exit, string Out, string Err)> Cli(params string[] args) => CliProcess.RunAsync(Site.Dir, Passphrase, Ct, args);

    [Fact]
    public async Task A_secret_appears_in_clear_only_in_the_file_on_the_hosts_never_in_outputs_state_or_process_lists()
    {
        var secret = "Tr0mb0ne-" + Guid.NewGuid().ToString("N")[..12];
        var rotated = "Sax0ph0ne-" + Guid.NewGuid().ToString("N")[..12];
        var project = Site.Read("Pulumi.yaml");
        var manifest = Site.Read("nf/kamailio/nf.yaml");
        var stackFile = Site.Read($"stacks/Pulumi.{Site.Stack}.yaml");
        var outputs = new List<string>();
        var seen = new ConcurrentBag<string>();
        try
        {
            Site.Write("Pulumi.yaml", project + "  nocApiToken:\n    type: string\n    description: a NOC API token (a secret)\n    default: \"\"\n");
            Site.Write("nf/kamailio/nf.yaml", manifest.Replace("files:\n",
                $"files:\n  - path: {SecretFile}\n    content: \"password={{{{ config.nocApiToken }}}}\\n\"\n    mode: \"0600\"\n"));

            var set = await Cli("config", "set", "nocApiToken", secret, "--secret", "--stack", Site.Stack);
            set.Exit.Should().Be(0, set.Err);
            Site.Read($"stacks/Pulumi.{Site.Stack}.yaml").Should().NotContain(secret).And.Contain("secure: v1:");

            outputs.Add(Collect(await Cli("preview", "--stack", Site.Stack, "--show-sames", "--verbose")));
            outputs.Add(Collect(await Cli("preview", "--stack", Site.Stack, "--json")));
            outputs.Add(await UpWatchingProcessListsAsync(seen));
            foreach (var (host, _) in LabSite.Kamailio)
                (await Site.Sh(host, $"stat -c %a {SecretFile}; cat {SecretFile}")).Should().Be($"600\npassword={secret}\n");

            // a rotated secret: the file changes, the diff is withheld, neither value is shown
            (await Cli("config", "set", "nocApiToken", rotated, "--secret", "--stack", Site.Stack)).Exit.Should().Be(0);
            var preview = await Cli("preview", "--stack", Site.Stack, "--verbose");
            outputs.Add(Collect(preview));
            preview.Out.Should().Contain(SecretFile);
            outputs.Add(Collect(await Cli("preview", "--stack", Site.Stack, "--json")));
            outputs.Add(await UpWatchingProcessListsAsync(seen));
            // drift of the secret file, as refresh reports it
            await Site.Sh("kamailio-1", $"echo 'password={rotated}-hand-edit' > {SecretFile}");
            outputs.Add(Collect(await Cli("refresh", "--stack", Site.Stack, "--verbose")));
            outputs.Add(Collect(await Cli("up", "--stack", Site.Stack, "--yes", "--json")));
            outputs.Add(Collect(await Cli("config", "--stack", Site.Stack)));
            (await Site.Sh("kamailio-1", $"cat {SecretFile}")).Should().Be($"password={rotated}\n");

            seen.Should().NotBeEmpty("the process lists were sampled during the runs");
            foreach (var value in new[] { secret, rotated })
            {
                outputs.Should().AllSatisfy(o => o.Should().NotContain(value));
                seen.Should().AllSatisfy(ps => ps.Should().NotContain(value), "no process argument on the controller or the hosts carries the secret");
                foreach (var f in Directory.EnumerateFiles(Site.Dir, "*", SearchOption.AllDirectories)
                             .Where(f => f.Contains("/.pulumi/", StringComparison.Ordinal) || f.Contains("/.nf-deploy/", StringComparison.Ordinal) || f.Contains("/stacks/", StringComparison.Ordinal)))
                    (await File.ReadAllTextAsync(f, Ct)).Should().NotContain(value, $"{f} holds no secret in clear");
            }
        }
        finally
        {
            Site.Write("Pulumi.yaml", project);
            Site.Write("nf/kamailio/nf.yaml", manifest);
            Site.Write($"stacks/Pulumi.{Site.Stack}.yaml", stackFile);
            var cleanup = await Site.Up();
            cleanup.Exit.Should().Be(0, cleanup.Out + cleanup.Err);
            foreach (var (host, _) in LabSite.Kamailio)
                (await Site.ShAsync(host, $"test ! -e {SecretFile}")).Ok.Should().BeTrue("the secret file is deleted with its resource");
        }
    }

    private static string Collect((int Exit, string Out, string Err) r)
    {
        r.Exit.Should().Be(0, r.Out + r.Err);
        return r.Out + r.Err;
    }

    /// <summary>Runs `up` and, while it runs, samples every process's arguments on the controller and on each host.</summary>
    private async Task<string> UpWatchingProcessListsAsync(ConcurrentBag<string> seen)
    {
        using var run = new CliProcess(Site.Dir, Passphrase, "up", "--stack", Site.Stack, "--yes", "--verbose");
        var exit = run.ExitAsync(TimeSpan.FromMinutes(10), Ct);
        while (!exit.IsCompleted)
        {
            seen.Add(ControllerProcessList());
            foreach (var (host, _) in LabSite.Kamailio)
                seen.Add(await DockerExecAsync($"nfd-{Site.Stack}-{host}", "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f 2>/dev/null; echo; done"));
        }
        (await exit).Should().Be(0, run.Out + run.Err);
        return run.Out + run.Err;
    }

    private static string ControllerProcessList()
    {
        var lines = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories("/proc").Where(d => Path.GetFileName(d).All(char.IsAsciiDigit)))
        {
            try { lines.Add(File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ')); }
            catch (IOException) { /* the process ended */ }
            catch (UnauthorizedAccessException) { }
        }
        return string.Join('\n', lines);
    }

    private static async Task<string> DockerExecAsync(string container, string script)
    {
        var psi = new ProcessStartInfo("docker") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "exec", container, "sh", "-c", script }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var o = await p.StandardOutput.ReadToEndAsync(Ct);
        await p.WaitForExitAsync(Ct);
        return o;
    }
}
