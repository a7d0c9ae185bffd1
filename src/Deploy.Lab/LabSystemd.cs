using Deploy.Core.Lab;
using Docker.DotNet.Models;

namespace Deploy.Lab;

/// <summary>
/// Lab hosts that boot like a real Debian host: systemd as PID 1 (journald, logind, dbus), sshd as a unit. The image is
/// the base image's debootstrap with <c>systemd systemd-sysv dbus</c> added, cached as <c>&lt;base&gt;-systemd</c>. The
/// container gets what systemd needs: /run and /run/lock on tmpfs, the cgroup tree read-only, CAP_SYS_ADMIN, and
/// SIGRTMIN+3 as its stop signal (a <c>docker restart</c> is then a clean reboot).
/// </summary>
internal static class LabSystemd
{
    public const string ExtraPackages = ",systemd,systemd-sysv,dbus";

    /// <summary>The image for a host with this init: the base image, or its systemd variant.</summary>
    public static string Image(string baseImage, string init)
    {
        if (init != LabInit.Systemd) return baseImage;
        var (repo, tag) = LabImageBuilder.SplitImage(baseImage);
        return $"{repo}:{tag}-systemd";
    }

    /// <summary>sshd's host keys are made at first boot (the image has none), before ssh.service's own check;
    /// units that cannot work in a container are masked.</summary>
    public static void PrepareRoot(string root)
    {
        var dropIn = Path.Combine(root, "etc/systemd/system/ssh.service.d");
        Directory.CreateDirectory(dropIn);
        File.WriteAllText(Path.Combine(dropIn, "nf-deploy-host-keys.conf"),
            "# nf-deploy lab: each host makes its own host keys at first boot\n[Service]\nExecStartPre=\n" +
            "ExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n");
        var wants = Path.Combine(root, "etc/systemd/system/multi-user.target.wants");
        Directory.CreateDirectory(wants);
        var link = Path.Combine(wants, "ssh.service");
        if (!Present(link)) File.CreateSymbolicLink(link, "/lib/systemd/system/ssh.service");
        foreach (var unit in new[] { "getty@tty1.service", "systemd-udevd.service", "systemd-modules-load.service",
                     "sys-kernel-config.mount", "sys-kernel-debug.mount", "systemd-remount-fs.service" })
        {
            var mask = Path.Combine(root, "etc/systemd/system", unit);
            if (!Present(mask)) File.CreateSymbolicLink(mask, "/dev/null");
        }
    }

    // links in the new root point at its own absolute paths: look at the link itself, not at what it names here
    private static bool Present(string path) => new FileInfo(path).LinkTarget is not null || File.Exists(path);

    /// <summary>What differs in the container of a systemd host.</summary>
    public static void Configure(CreateContainerParameters c)
    {
        c.Cmd = ["/lib/systemd/systemd"];
        c.Env = ["container=docker"];
        c.StopSignal = "SIGRTMIN+3";
        var host = c.HostConfig;
        host.Init = null; // systemd is PID 1
        host.CapAdd = [.. host.CapAdd ?? [], "SYS_ADMIN"];
        host.Tmpfs = new Dictionary<string, string> { ["/run"] = "", ["/run/lock"] = "" };
        host.Binds = [.. host.Binds ?? [], "/sys/fs/cgroup:/sys/fs/cgroup:ro"];
    }
}
