using System.Text.Json.Nodes;
using Deploy.Cli;
using Deploy.Core.Model;
using Deploy.Core.Transport;
using Deploy.Transport;

namespace Deploy.Integration.Tests;

/// <summary>
/// A copy of the repository's site in a temp folder, with the lab moved to its own network (10.212.0.0/24, stack "it")
/// so tests never touch an operator's `lab`. Verbs run in-process through the same App the CLI uses.
/// </summary>
public sealed class LabSite : IDisposable
{
    public string Stack { get; }
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "nfd-it-" + Guid.NewGuid().ToString("N")[..8]);

    public static readonly (string Name, string Ip)[] Kamailio = [("kamailio-1", "10.212.0.11"), ("kamailio-2", "10.212.0.12"), ("kamailio-3", "10.212.0.13")];

    /// <param name="groups">The inventory groups of the lab site to keep (with their hosts); null keeps them all.</param>
    public LabSite(string network = "nfd-it", string subnetPrefix = "10.212.0", string stack = "it", string[]? groups = null)
    {
        Stack = stack;
        SubnetPrefix = subnetPrefix;
        var repo = RepoRoot();
        foreach (var sub in new[] { "roles", "nf", "templates", "stacks", "inventory" }) CopyDir(Path.Combine(repo, sub), Path.Combine(Dir, sub));
        File.Copy(Path.Combine(repo, "Pulumi.yaml"), Path.Combine(Dir, "Pulumi.yaml"));
        Write($"stacks/Pulumi.{Stack}.yaml", Read("stacks/Pulumi.lab.yaml").Replace("nf-deploy:inventory: lab", $"nf-deploy:inventory: {Stack}").Replace("10.211.0", subnetPrefix));
        var inventory = Read("inventory/lab.yaml").Replace("network: nfd-lab", $"network: {network}").Replace("10.211.0", subnetPrefix);
        Write($"inventory/{Stack}.yaml", groups is null ? inventory : OnlyGroups(inventory, groups));
        // the lab mirror's signing key, as scripts/lab-up puts it in the project (the lab stack reads it as a key file)
        if (File.Exists(MirrorKey)) Write(".nf-deploy/lab/mirror-key.asc", File.ReadAllText(MirrorKey));
    }

    /// <summary>The lab mirror's signing key, made on this machine by scripts/setup-controller.sh.</summary>
    public const string MirrorKey = "/var/lib/nf-deploy/mirror/kamailiodebkey.gpg";

    /// <summary>The first three octets of the lab network (every 10.211.0.x address of the lab site is moved there).</summary>
    public string SubnetPrefix { get; }

    /// <summary>The inventory with only the given groups and the hosts they list; the text of what is kept is unchanged
    /// (specs edit it by string replacement).</summary>
    private static string OnlyGroups(string inventory, string[] keep)
    {
        var yaml = new YamlDotNet.RepresentationModel.YamlStream();
        yaml.Load(new StringReader(inventory));
        var root = (YamlDotNet.RepresentationModel.YamlMappingNode)yaml.Documents[0].RootNode;
        var groups = (YamlDotNet.RepresentationModel.YamlMappingNode)root["groups"];
        var hosts = (YamlDotNet.RepresentationModel.YamlMappingNode)root["hosts"];
        var kept = new HashSet<string>();
        var drop = new List<(YamlDotNet.RepresentationModel.YamlNode Key, YamlDotNet.RepresentationModel.YamlNode Value)>();
        foreach (var (k, v) in groups.Children)
        {
            if (!keep.Contains(k.ToString())) { drop.Add((k, v)); continue; }
            if (((YamlDotNet.RepresentationModel.YamlMappingNode)v).Children.TryGetValue("hosts", out var list))
                foreach (var h in (YamlDotNet.RepresentationModel.YamlSequenceNode)list) kept.Add(h.ToString());
        }
        drop.AddRange(hosts.Children.Where(h => !kept.Contains(h.Key.ToString())).Select(h => (h.Key, h.Value)));
        // each dropped entry: its key's line and the lines indented deeper than the key that follow it
        var lines = inventory.Split('\n').ToList();
        var gone = new HashSet<int>();
        foreach (var (k, _) in drop)
        {
            var first = (int)k.Start.Line - 1;
            var indent = (int)k.Start.Column - 1;
            var last = first;
            for (var j = first + 1; j < lines.Count; j++)
            {
                if (lines[j].Trim().Length == 0) continue;
                if (lines[j].Length - lines[j].TrimStart().Length <= indent) break;
                last = j;
            }
            for (var l = first; l <= last; l++) gone.Add(l);
        }
        return string.Join('\n', lines.Where((_, i) => !gone.Contains(i)));
    }

    /// <summary>The passphrase of the lab stack's secrets (lab only; scripts/lab-up uses it too).</summary>
    public const string LabPassphrase = "nf-deploy-lab";

    public static string RepoRoot()
    {
        for (var d = AppContext.BaseDirectory; d is not null; d = Path.GetDirectoryName(d))
            if (File.Exists(Path.Combine(d, "Pulumi.yaml")) && Directory.Exists(Path.Combine(d, "nf"))) return d;
        throw new InvalidOperationException("repo root not found");
    }

    public string Read(string rel) => File.ReadAllText(Path.Combine(Dir, rel));

    public void Write(string rel, string content)
    {
        var p = Path.Combine(Dir, rel);
        Directory.CreateDirectory(Path.GetDirectoryName(p)!);
        File.WriteAllText(p, content);
    }

    public sealed record Run(int Exit, string Out, string Err)
    {
        public JsonObject Json => JsonNode.Parse(Out)!.AsObject();
    }

    public async Task<Run> RunAsync(Func<App, CancellationToken, Task<int>> verb)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int exit;
        try { exit = await verb(new App(new Workspace(Dir) { Passphrase = () => LabPassphrase }, o, e, 16, true), TestContext.Current.CancellationToken); }
        catch (DeployException ex) { e.WriteLine("error: " + ex.Message); exit = ExitCodes.Failed; }
        return new Run(exit, o.ToString(), e.ToString());
    }

    public Task<Run> Up() => RunAsync((a, ct) => a.UpAsync(Stack, yes: true, json: false, ct));
    public Task<Run> PreviewJson() => RunAsync((a, ct) => a.PreviewAsync(Stack, json: true, expectNoChanges: false, showSames: false, ct));
    public Task<Run> Preview(bool expectNoChanges) => RunAsync((a, ct) => a.PreviewAsync(Stack, json: false, expectNoChanges, showSames: false, ct));
    public Task<Run> Refresh() => RunAsync((a, ct) => a.RefreshAsync(Stack, expectNoChanges: true, ct));
    public Task<Run> Destroy() => RunAsync((a, ct) => a.DestroyAsync(Stack, yes: true, ct));
    public Task<Run> Health() => RunAsync((a, ct) => a.HealthAsync(Stack, ct));

    /// <summary>A reboot of a lab host: its container restarted (systemd shuts down cleanly on the stop signal); returns
    /// once sshd answers and the boot is over (systemd: is-system-running --wait; sysv: rc2.d ran before sshd).</summary>
    public async Task RebootAsync(string host, string ip)
    {
        var ct = TestContext.Current.CancellationToken;
        using (var docker = new Docker.DotNet.DockerClientConfiguration(new Uri("unix:///var/run/docker.sock")).CreateClient(new Version(1, 41)))
            await docker.Containers.RestartContainerAsync($"nfd-{Stack}-{host}", new Docker.DotNet.Models.ContainerRestartParameters { WaitBeforeKillSeconds = 30 }, ct);
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (true)
        {
            try
            {
                await using var t = await ConnectAsync(host, ip);
                await t.RunAsync("if [ -d /run/systemd/system ]; then systemctl is-system-running --wait >/dev/null; fi; true", ct);
                return;
            }
            catch (DeployException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(1000, ct);
            }
        }
    }

    /// <summary>When the host's container last started (a reboot changes it).</summary>
    public async Task<DateTime> StartedAtAsync(string host)
    {
        using var docker = new Docker.DotNet.DockerClientConfiguration(new Uri("unix:///var/run/docker.sock")).CreateClient(new Version(1, 41));
        var started = (await docker.Containers.InspectContainerAsync($"nfd-{Stack}-{host}", TestContext.Current.CancellationToken)).State.StartedAt;
        return DateTimeOffset.Parse(started, System.Globalization.CultureInfo.InvariantCulture).UtcDateTime;
    }

    /// <summary>Runs a script as root on a lab host over SSH, as the deployer does.</summary>
    public Task<ExecResult> ShAsync(string host, string script) => ShAtAsync(host, Kamailio.Single(k => k.Name == host).Ip, script);

    public async Task<ExecResult> ShAtAsync(string host, string ip, string script)
    {
        await using var t = await ConnectAsync(host, ip);
        return await t.RunAsync(script, TestContext.Current.CancellationToken);
    }

    /// <summary>An SSH connection to a lab host as the deployer opens it (kamailio-2 as the sudo user `deploy`).</summary>
    public Task<IHostTransport> ConnectAsync(string host, string ip) =>
        new SshHostConnector(new KnownHosts(Path.Combine(Dir, ".nf-deploy", "known_hosts"))).ConnectAsync(
            new HostConnection(host, new SshEndpoint(ip, 22, host == "kamailio-2" ? "deploy" : "root", Path.Combine(Dir, ".nf-deploy", "lab", "id_ed25519"))),
            TestContext.Current.CancellationToken);

    public async Task<string> Sh(string host, string script)
    {
        var r = await ShAsync(host, script);
        if (!r.Ok) throw new InvalidOperationException($"{host}: `{script}` failed ({r.ExitCode}): {r.Stderr}");
        return r.Stdout;
    }

    private static void CopyDir(string from, string to)
    {
        Directory.CreateDirectory(to);
        // a link stays a link: the site is compiled as `./deploy` compiles the repository (a link out of an NF is refused)
        foreach (var f in Directory.GetFiles(from))
        {
            var dest = Path.Combine(to, Path.GetFileName(f));
            if (new FileInfo(f).LinkTarget is { } target) { File.Delete(dest); File.CreateSymbolicLink(dest, target); }
            else File.Copy(f, dest, true);
        }
        foreach (var d in Directory.GetDirectories(from)) CopyDir(d, Path.Combine(to, Path.GetFileName(d)));
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, true); } catch (IOException) { }
    }
}
