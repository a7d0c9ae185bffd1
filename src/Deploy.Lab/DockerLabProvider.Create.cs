using System.Net;
using Deploy.Core.Lab;
using Deploy.Core.Model;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Deploy.Lab;

// Creating a lab host's container: the command it boots with and the create parameters (network, address,
// devices, sysctls, /etc/hosts, /run tmpfs, docker-init), then starting and configuring it.
public sealed partial class DockerLabProvider
{
    // a sysv host's boot: host keys, the init.d scripts enabled in runlevel 2 (what update-rc.d enabled: a restarted
    // container brings its services back), then sshd in the foreground. Each script runs as /etc/init.d/<name>, as
    // Debian's rc and startpar run it: Kamailio's takes its name from $0 (run as S01kamailio it reads
    // /etc/default/S01kamailio, finds RUN_KAMAILIO unset and exits 0 without starting)
    private const string StartCommand = "ssh-keygen -A && mkdir -p /run/sshd && " +
        "for s in /etc/rc2.d/S*; do case \"$s\" in *ssh|*\\*) ;; *) timeout 60 \"$(readlink -f \"$s\")\" start </dev/null >/dev/null 2>&1 || true ;; esac; done; " +
        "exec /usr/sbin/sshd -D -e";

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
}
