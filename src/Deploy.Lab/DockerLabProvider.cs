using System.Collections.Immutable;
using System.Net;
using Deploy.Core.Lab;
using Deploy.Core.Model;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Deploy.Lab;

/// <summary>Lab hosts as Docker containers running sshd on an internal Docker network; the deployer then reaches
/// them over SSH like real VMs. Safe to use concurrently for different hosts.</summary>
public sealed class DockerLabProvider : ILabProvider, IDisposable, IAsyncDisposable
{
    private static readonly System.Version ApiVersion = new(1, 41);
    // a sysv host's boot: host keys, the init.d scripts enabled in runlevel 2 (what update-rc.d enabled: a restarted
    // container brings its services back), then sshd in the foreground. Each script runs as /etc/init.d/<name>, as
    // Debian's rc and startpar run it: Kamailio's takes its name from $0 (run as S01kamailio it reads
    // /etc/default/S01kamailio, finds RUN_KAMAILIO unset and exits 0 without starting)
    private const string StartCommand = "ssh-keygen -A && mkdir -p /run/sshd && " +
        "for s in /etc/rc2.d/S*; do case \"$s\" in *ssh|*\\*) ;; *) timeout 60 \"$(readlink -f \"$s\")\" start </dev/null >/dev/null 2>&1 || true ;; esac; done; " +
        "exec /usr/sbin/sshd -D -e";

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

    private async Task<LabHostState> CreateAsync(LabSpec lab, LabHostSpec host, IPAddress address, CancellationToken ct)
    {
        var name = LabLabels.ContainerName(lab.Stack, host.Name);
        var init = await EngineHasInitAsync(ct);
        string id;
        try
        {
            var create = new CreateContainerParameters
            {
                Name = name,
                Hostname = host.Name,
                Image = LabSystemd.Image(lab.Image, host.Init),
                Cmd = ["/bin/sh", "-c", StartCommand],
                Labels = new Dictionary<string, string> { [LabLabels.Stack] = lab.Stack, [LabLabels.Host] = host.Name },
                HostConfig = new HostConfig
                {
                    NetworkMode = lab.Network,
                    CapAdd = ["SYS_PTRACE", .. host.Capabilities.IsDefault ? [] : host.Capabilities],
                    // IPv6 on, as on a Debian host: Docker turns it off, and packages that find it off try to change it
                    // with sysctl -p, which a container may not (open5gs-upf's postinst then fails)
                    Sysctls = new Dictionary<string, string> { ["net.ipv6.conf.all.disable_ipv6"] = "0" },
                    // host devices the inventory asks for (lab: { devices: [/dev/net/tun] }), read-write, same path
                    Devices = host.Devices.IsDefault ? null
                        : [.. host.Devices.Select(d => new DeviceMapping { PathOnHost = d, PathInContainer = d, CgroupPermissions = "rwm" })],
                    // the lab has no DNS: daemons that look up their peers' names (freeDiameter does, for each new
                    // connection) would wait for the resolver to time out on the controller's address
                    ExtraHosts = [$"nf-deploy-controller:{lab.Gateway}"],
                    Init = init ? true : null,
                    RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.UnlessStopped },
                },
                NetworkingConfig = new NetworkingConfig
                {
                    EndpointsConfig = new Dictionary<string, EndpointSettings>
                    {
                        [lab.Network] = new() { IPAMConfig = new EndpointIPAMConfig { IPv4Address = host.Address } },
                    },
                },
            };
            // /etc/hosts survives a restart (a reboot), as a real host's does
            create.HostConfig.Binds = [LabHostsFile.Create(_options.StateDir, name, host.Name, host.Address, lab.Gateway)];
            // /run is a tmpfs as on a real host: a reboot leaves no stale pid file for an init.d script to trip on
            create.HostConfig.Tmpfs = new Dictionary<string, string> { ["/run"] = "", ["/run/lock"] = "" };
            if (host.Init == LabInit.Systemd) LabSystemd.Configure(create);
            id = (await _docker.Containers.CreateContainerAsync(create, ct)).ID;
        }
        catch (DockerApiException e) when (DockerErrors.IsConflict(e))
        {
            // the name is taken: created meanwhile by another caller, or a container that is not labelled as ours
            var raced = await FindAsync(lab.Stack, host.Name, ct)
                        ?? throw new DeployException($"a container named {name} exists but is not lab host {host.Name} " +
                                                     $"of stack {lab.Stack}; remove it (docker rm -f {name})", e);
            return await EnsureStartedAsync(lab, host, raced, address, ct);
        }

        try
        {
            _log($"lab host {host.Name}: starting container {name} at {host.Address}");
            await _docker.Containers.StartContainerAsync(id, new ContainerStartParameters(), ct);
            await _configurator.ConfigureAsync(id, lab.Gateway, lab.AptProxy, lab.AuthorizedKey, host.LoginUser, ct);
            await WaitForSshAsync(host, id, address, ct);
        }
        catch
        {
            // a half-made host would be taken as done by the next run: remove it
            await RemoveContainerAsync(id, CancellationToken.None, name);
            throw;
        }
        return new LabHostState(host.Name, id, host.Address, true);
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

    /// <summary>Whether the engine can run docker-init as PID 1 (HostConfig.Init): the binary must exist here, where
    /// the engine runs.</summary>
    private async Task<bool> EngineHasInitAsync(CancellationToken ct)
    {
        var info = await _docker.System.GetSystemInfoAsync(ct);
        var binary = string.IsNullOrEmpty(info.InitBinary) ? "docker-init" : info.InitBinary;
        if (Path.IsPathRooted(binary))
            return File.Exists(binary);
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/libexec/docker", "/usr/local/libexec/docker",
                "/usr/lib/docker", "/usr/local/lib/docker"]);
        return dirs.Any(d => File.Exists(Path.Combine(d, binary)));
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
