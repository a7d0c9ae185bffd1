using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using Deploy.Core.Lab;
using Docker.DotNet;
using Docker.DotNet.Models;
using Xunit;

namespace Deploy.Lab.Tests;

/// <summary>One lab stack per test class: a random stack name, a subnet of its own in 10.213.x.0/24, an SSH key pair,
/// and a clean-up that destroys everything the stack made.</summary>
public abstract class LabFixture : IAsyncLifetime
{
    public const string Image = "nf-deploy/lab-base:bookworm";

    protected LabFixture(int subnetOctet)
    {
        Octet = subnetOctet;
        Stack = $"t-lab-{Guid.NewGuid():N}"[..14];
        KeyDir = Directory.CreateTempSubdirectory("nfd-lab-key-").FullName;
        Provider = new DockerLabProvider(line => Log.Enqueue(line));
        Docker = new DockerClientConfiguration(new Uri("unix:///var/run/docker.sock")).CreateClient(new System.Version(1, 41));
    }

    public int Octet { get; }
    public string Stack { get; }
    public string KeyDir { get; }
    public string PrivateKeyPath => Path.Combine(KeyDir, "id_ed25519");
    public DockerLabProvider Provider { get; }
    public DockerClient Docker { get; }
    public ConcurrentQueue<string> Log { get; } = new();
    public string Gateway => $"10.213.{Octet}.1";
    public string Network => $"nfd-{Stack}";
    public LabSpec Spec { get; private set; } = null!;

    public string Address(int host) => $"10.213.{Octet}.{host}";

    public LabHostSpec Host(string name, int address, string user = "root") => new(name, Address(address), user);

    public async ValueTask InitializeAsync()
    {
        var keygen = Process.Start(new ProcessStartInfo("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "nfd-lab-test", "-f", PrivateKeyPath])
        {
            RedirectStandardOutput = true,
        })!;
        await keygen.WaitForExitAsync();
        if (keygen.ExitCode != 0)
            throw new InvalidOperationException("ssh-keygen failed");
        Spec = new LabSpec(Stack, Network, $"10.213.{Octet}.0/24", Gateway, Image, $"http://{Gateway}:3142",
            (await File.ReadAllTextAsync(PrivateKeyPath + ".pub")).Trim(), ImmutableArray<LabHostSpec>.Empty);
        await RemoveLeftoversAsync();
    }

    /// <summary>A test run that was killed leaves its stack behind, and its subnet would clash with ours.</summary>
    private async Task RemoveLeftoversAsync()
    {
        var networks = await Docker.Networks.ListNetworksAsync(new NetworksListParameters
        {
            Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { ["nf-deploy.stack"] = true } },
        });
        foreach (var n in networks)
            if (n.Labels["nf-deploy.stack"].StartsWith("t-lab-", StringComparison.Ordinal)
                && n.IPAM.Config.Any(c => c.Subnet == Spec.Subnet))
                await Provider.DestroyAsync(n.Labels["nf-deploy.stack"], CancellationToken.None);
    }

    public async Task<ContainerInspectResponse> InspectAsync(LabHostState host) =>
        await Docker.Containers.InspectContainerAsync(host.ContainerId, TestContext.Current.CancellationToken);

    /// <summary>Runs a shell command in the container as root (docker exec), returning exit code and output.</summary>
    public async Task<(long ExitCode, string Output)> ExecAsync(LabHostState host, string script, CancellationToken ct)
    {
        var exec = await Docker.Exec.ExecCreateContainerAsync(host.ContainerId, new ContainerExecCreateParameters
        {
            AttachStdout = true,
            AttachStderr = true,
            Cmd = ["/bin/sh", "-c", script],
        }, ct);
        using var stream = await Docker.Exec.StartAndAttachContainerExecAsync(exec.ID, false, ct);
        var (stdout, stderr) = await stream.ReadOutputToEndAsync(ct);
        var inspect = await Docker.Exec.InspectContainerExecAsync(exec.ID, ct);
        return (inspect.ExitCode, stdout + stderr);
    }

    public async ValueTask DisposeAsync()
    {
        await Provider.DestroyAsync(Stack, CancellationToken.None);
        await Provider.DisposeAsync();
        Docker.Dispose();
        Directory.Delete(KeyDir, recursive: true);
        GC.SuppressFinalize(this);
    }
}
