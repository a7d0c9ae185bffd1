using System.Collections.Immutable;
using System.Net;
using Deploy.Core.Lab;
using Deploy.Core.Model;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Deploy.Lab;

/// <summary>Lab hosts as Docker containers running sshd on an internal Docker network; the deployer then reaches
/// them over SSH like real VMs. Safe to use concurrently for different hosts.</summary>
public sealed partial class DockerLabProvider : ILabProvider, IDisposable, IAsyncDisposable
{
    private static readonly System.Version ApiVersion = new(1, 41);

    private readonly DockerLabOptions _options;
    private readonly Action<string> _log;
    private readonly DockerClientConfiguration _configuration;
    private readonly DockerClient _docker;
    private readonly LabImageBuilder _images;
    private readonly LabNetwork _networks;
    private readonly LabHostConfigurator _configurator;
    private readonly SemaphoreSlim _imageGate = new(1, 1);
    private readonly SemaphoreSlim _networkGate = new(1, 1);

    /// <param name="progress">Receives one line per notable step (image build, container start); may be null.</param>
    /// <param name="options">Engine endpoint and build settings; <see cref="DockerLabOptions.Default"/> if null.</param>
    public DockerLabProvider(Action<string>? progress = null, DockerLabOptions? options = null)
    {
        _options = options ?? DockerLabOptions.Default;
        _log = progress ?? (_ => { });
        _configuration = new DockerClientConfiguration(_options.DockerEndpoint, defaultTimeout: TimeSpan.FromMinutes(10));
        _docker = _configuration.CreateClient(ApiVersion);
        _images = new LabImageBuilder(_docker, _options, _log);
        _networks = new LabNetwork(_docker);
        _configurator = new LabHostConfigurator(new ContainerExec(_docker));
    }

    public Task<ImmutableArray<LabHostState>> ReadAsync(string stack, CancellationToken ct) =>
        GuardAsync($"lab stack {stack}: reading hosts", async () =>
        {
            LabSpecValidation.CheckStack(stack);
            await PingAsync(ct);
            var containers = await ListAsync(ct, (LabLabels.Stack, stack));
            return containers.Select(ToState).OrderBy(h => h.Name, StringComparer.Ordinal).ToImmutableArray();
        });

    public Task<LabHostState> EnsureHostAsync(LabSpec lab, LabHostSpec host, CancellationToken ct) =>
        GuardAsync($"lab stack {lab.Stack}: host {host.Name}", async () =>
        {
            var address = LabSpecValidation.Check(lab, host);
            await PingAsync(ct);
            var existing = await FindAsync(lab.Stack, host.Name, ct);
            if (existing is not null)
                return await EnsureStartedAsync(lab, host, existing, address, ct);

            var image = LabSystemd.Image(lab.Image, host.Init);
            await OnceAtATimeAsync(_imageGate, () => _images.EnsureAsync(image, ct, host.Init == LabInit.Systemd), ct);
            await OnceAtATimeAsync(_networkGate, () => _networks.EnsureAsync(lab, ct), ct);
            return await CreateAsync(lab, host, address, ct);
        });

    public Task DeleteHostAsync(string stack, string name, CancellationToken ct) =>
        GuardAsync($"lab stack {stack}: deleting host {name}", async () =>
        {
            LabSpecValidation.CheckStack(stack);
            await PingAsync(ct);
            foreach (var container in await ListAsync(ct, (LabLabels.Stack, stack), (LabLabels.Host, name)))
                await RemoveContainerAsync(container.ID, ct, NameOf(container));
            return true;
        });

    public Task DestroyAsync(string stack, CancellationToken ct) =>
        GuardAsync($"lab stack {stack}: destroying", async () =>
        {
            LabSpecValidation.CheckStack(stack);
            await PingAsync(ct);
            var containers = await ListAsync(ct, (LabLabels.Stack, stack));
            foreach (var container in containers)
                await RemoveContainerAsync(container.ID, ct, NameOf(container));
            if (containers.Count > 0)
                _log($"lab stack {stack}: removed {containers.Count} container(s)");
            await _networks.RemoveAllAsync(stack, ct);
            return true;
        });

    private async Task<LabHostState> EnsureStartedAsync(LabSpec lab, LabHostSpec host, ContainerListResponse existing,
        IPAddress address, CancellationToken ct)
    {
        var state = ToState(existing);
        if (state.Address != host.Address)
            throw new DeployException(
                $"lab stack {lab.Stack}: host {host.Name} exists with address {(state.Address.Length > 0 ? state.Address : "(none)")}, " +
                $"not {host.Address}; delete the lab host to recreate it");
        if (state.Running)
            return state;
        _log($"lab host {host.Name}: starting stopped container");
        await _docker.Containers.StartContainerAsync(existing.ID, new ContainerStartParameters(), ct);
        await WaitForSshAsync(host, existing.ID, address, ct);
        return state with { Running = true };
    }

    private async Task WaitForSshAsync(LabHostSpec host, string containerId, IPAddress address, CancellationToken ct)
    {
        if (await SshBanner.WaitAsync(address, _options.SshTimeout, ct))
            return;
        throw new DeployException(
            $"lab host {host.Name}: sshd did not answer on {address}:{SshBanner.Port} within {_options.SshTimeout.TotalSeconds:0} s; " +
            $"container log: {await LogTailAsync(containerId, ct)}");
    }

    private async Task<string> LogTailAsync(string containerId, CancellationToken ct)
    {
        try
        {
            using var stream = await _docker.Containers.GetContainerLogsAsync(containerId, false,
                new ContainerLogsParameters { ShowStdout = true, ShowStderr = true, Tail = "10" }, ct);
            var (stdout, stderr) = await stream.ReadOutputToEndAsync(ct);
            var text = (stdout + stderr).Trim().Replace('\n', ' ');
            return text.Length > 0 ? text : "(empty)";
        }
        catch (DockerApiException e)
        {
            return $"(unavailable: {e.StatusCode})";
        }
    }

    private async Task<ContainerListResponse?> FindAsync(string stack, string host, CancellationToken ct) =>
        (await ListAsync(ct, (LabLabels.Stack, stack), (LabLabels.Host, host))).FirstOrDefault();

    private async Task<IList<ContainerListResponse>> ListAsync(CancellationToken ct, params (string, string)[] labels) =>
        await _docker.Containers.ListContainersAsync(
            new ContainersListParameters { All = true, Filters = LabLabels.Filter(labels) }, ct);

    private async Task RemoveContainerAsync(string id, CancellationToken ct, string? name = null)
    {
        try
        {
            await _docker.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true }, ct);
        }
        catch (DockerApiException e) when (DockerErrors.IsNotFound(e))
        {
        }
        if (name is not null) LabHostsFile.Delete(_options.StateDir, name);
    }

    private static string NameOf(ContainerListResponse c) => c.Names.FirstOrDefault()?.TrimStart('/') ?? c.ID;

    private static LabHostState ToState(ContainerListResponse c)
    {
        var endpoint = c.NetworkSettings?.Networks?.Values.FirstOrDefault();
        var address = endpoint?.IPAMConfig?.IPv4Address is { Length: > 0 } fixedIp ? fixedIp : endpoint?.IPAddress ?? "";
        var name = c.Labels is not null && c.Labels.TryGetValue(LabLabels.Host, out var n)
            ? n
            : c.Names.FirstOrDefault()?.TrimStart('/') ?? c.ID;
        return new LabHostState(name, c.ID, address, c.State == "running");
    }

    private async Task PingAsync(CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            await _docker.System.PingAsync(cts.Token);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            throw DockerErrors.Unreachable(_options.DockerEndpoint, e);
        }
    }

    private static async Task OnceAtATimeAsync(SemaphoreSlim gate, Func<Task> action, CancellationToken ct)
    {
        await gate.WaitAsync(ct);
        try
        {
            await action();
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<T> GuardAsync<T>(string doing, Func<Task<T>> body)
    {
        try
        {
            return await body();
        }
        catch (Exception e) when (DockerErrors.Translate(e, doing, _options.DockerEndpoint) is var mapped && !ReferenceEquals(mapped, e))
        {
            throw mapped;
        }
    }

    private async Task GuardAsync(string doing, Func<Task<bool>> body) => await GuardAsync<bool>(doing, body);

    public void Dispose()
    {
        _docker.Dispose();
        _configuration.Dispose();
        _imageGate.Dispose();
        _networkGate.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
