using System.Diagnostics;
using System.IO.Pipelines;
using System.Text.RegularExpressions;
using CliWrap;
using Deploy.Core.Model;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Deploy.Lab;

/// <summary>Builds the lab base image locally (nothing can be pulled): debootstrap a minimal Debian root with sshd
/// and sudo, then stream it as a tar archive into the engine's image import.</summary>
internal sealed partial class LabImageBuilder(IDockerClient docker, DockerLabOptions options, Action<string> log)
{
    private const string Packages = "openssh-server,sudo,iproute2,netbase,procps,ca-certificates";
    private static readonly TimeSpan LockTimeout = TimeSpan.FromMinutes(15);

    public async Task<bool> ExistsAsync(string image, CancellationToken ct)
    {
        try
        {
            await docker.Images.InspectImageAsync(image, ct);
            return true;
        }
        catch (DockerApiException e) when (DockerErrors.IsNotFound(e))
        {
            return false;
        }
    }

    /// <summary>Builds <paramref name="image"/> unless it exists; another process building it is waited for.</summary>
    /// <param name="systemd">The image boots systemd (<see cref="LabSystemd"/>).</param>
    public async Task EnsureAsync(string image, CancellationToken ct, bool systemd = false)
    {
        if (await ExistsAsync(image, ct))
            return;
        var lockPath = Path.Combine(options.StateDir, "lab-image.lock");
        await using var held = await FileLock.AcquireAsync(lockPath, LockTimeout, log, ct);
        if (await ExistsAsync(image, ct))
            return; // built by whoever held the lock
        await BuildAsync(image, systemd, ct);
    }

    private async Task BuildAsync(string image, bool systemd, CancellationToken ct)
    {
        var root = Path.Combine(options.StateDir, "lab-rootfs"); // only used under the build lock
        var clock = Stopwatch.StartNew();
        await RemoveTreeAsync(root, ct);
        Directory.CreateDirectory(root);
        try
        {
            log($"building lab image {image}: debootstrap {options.Suite} (takes 2-3 minutes)");
            await DebootstrapAsync(root, systemd ? Packages + LabSystemd.ExtraPackages : Packages, ct);
            PrepareRoot(root);
            if (systemd) LabSystemd.PrepareRoot(root);
            log($"importing {image} into docker");
            await ImportAsync(root, image, systemd, ct);
            log($"lab image {image} built in {clock.Elapsed.TotalSeconds:0} s");
        }
        finally
        {
            try
            {
                await RemoveTreeAsync(root, CancellationToken.None);
            }
            catch (DeployException e)
            {
                log(e.Message); // the image, or the build error, matters more
            }
        }
    }

    private async Task DebootstrapAsync(string root, string packages, CancellationToken ct)
    {
        var errors = new Queue<string>();
        var result = await Cli.Wrap("debootstrap")
            .WithArguments(["--variant=minbase", $"--include={packages}", options.Suite, root, options.DebianMirror])
            .WithStandardOutputPipe(PipeTarget.ToDelegate(line =>
            {
                if (!PerPackageLine().IsMatch(line))
                    log($"debootstrap: {line}");
                Remember(errors, line);
            }))
            .WithStandardErrorPipe(PipeTarget.ToDelegate(line => Remember(errors, line)))
            .WithValidation(CommandResultValidation.None)
            .ExecuteAsync(ct);
        if (result.ExitCode != 0)
            throw new DeployException(
                $"building the lab image: debootstrap exited with {result.ExitCode}: {string.Join(" | ", errors)}");
    }

    private static void Remember(Queue<string> lines, string line)
    {
        lock (lines)
        {
            lines.Enqueue(line);
            while (lines.Count > 8)
                lines.Dequeue();
        }
    }

    /// <summary>Slims the root and makes it fit for containers: no package lists or caches, no host keys (each
    /// container makes its own), /run/sshd present, and no pam_loginuid failure inside a container.</summary>
    private static void PrepareRoot(string root)
    {
        var lists = Path.Combine(root, "var/lib/apt/lists");
        foreach (var file in Directory.EnumerateFiles(lists))
            if (Path.GetFileName(file) != "lock")
                File.Delete(file);
        foreach (var file in Directory.EnumerateFiles(Path.Combine(root, "var/cache/apt"), "*.bin"))
            File.Delete(file);
        foreach (var file in Directory.EnumerateFiles(Path.Combine(root, "var/cache/apt/archives"), "*.deb"))
            File.Delete(file);
        foreach (var file in Directory.EnumerateFiles(Path.Combine(root, "etc/ssh"), "ssh_host_*"))
            File.Delete(file);
        Directory.CreateDirectory(Path.Combine(root, "run/sshd"));
        Directory.CreateDirectory(Path.Combine(root, "etc/apt/keyrings"));
        var pam = Path.Combine(root, "etc/pam.d/sshd");
        if (File.Exists(pam))
            File.WriteAllText(pam, LoginUidRequired().Replace(File.ReadAllText(pam), "session    optional     pam_loginuid.so"));
    }

    /// <summary>Streams <c>tar -C root -c .</c> into POST /images/create?fromSrc=-.</summary>
    private async Task ImportAsync(string root, string image, bool systemd, CancellationToken ct)
    {
        var (repo, tag) = SplitImage(image);
        var pipe = new Pipe();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var tarErrors = new Queue<string>();
        var tar = Task.Run(async () =>
        {
            try
            {
                var result = await Cli.Wrap("tar")
                    .WithArguments(["-C", root, "--numeric-owner", "--exclude=./dev/*", "--exclude=./proc/*",
                        "--exclude=./sys/*", "-c", "."])
                    .WithStandardOutputPipe(PipeTarget.ToStream(pipe.Writer.AsStream(leaveOpen: true)))
                    .WithStandardErrorPipe(PipeTarget.ToDelegate(line => Remember(tarErrors, line)))
                    .WithValidation(CommandResultValidation.None)
                    .ExecuteAsync(cts.Token);
                await pipe.Writer.CompleteAsync(result.ExitCode == 0
                    ? null
                    : new IOException($"tar exited with {result.ExitCode}: {string.Join(" | ", tarErrors)}"));
            }
            catch (Exception e)
            {
                await pipe.Writer.CompleteAsync(e);
                throw;
            }
        }, CancellationToken.None);

        string? error = null;
        var progress = new Synchronous<JSONMessage>(m => error ??= m.Error?.Message ?? NullIfEmpty(m.ErrorMessage));
        try
        {
            await using var body = pipe.Reader.AsStream();
            await docker.Images.CreateImageAsync(new ImagesCreateParameters
            {
                FromSrc = "-",
                Repo = repo,
                Tag = tag,
                Message = systemd ? "nf-deploy lab image with systemd (debootstrap)" : "nf-deploy lab base image (debootstrap)",
                Changes = systemd
                    ? ["CMD [\"/lib/systemd/systemd\"]", "LABEL nf-deploy.image=lab-systemd"]
                    : ["CMD [\"/usr/sbin/sshd\", \"-D\", \"-e\"]", "LABEL nf-deploy.image=lab-base"],
            }, body, null, progress, cts.Token);
        }
        catch
        {
            await cts.CancelAsync();
            await SwallowAsync(tar);
            throw;
        }
        await tar;
        if (error is not null || !await ExistsAsync(image, ct))
            throw new DeployException($"building the lab image: docker import of {image} failed: {error ?? "image missing after import"}");
    }

    private static async Task SwallowAsync(Task task)
    {
        try
        {
            await task;
        }
        catch
        {
            // the import failure is what the user needs to see
        }
    }

    /// <summary>Unlike <see cref="Progress{T}"/>, reports on the caller's thread, so nothing arrives late.</summary>
    private sealed class Synchronous<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    internal static (string Repo, string Tag) SplitImage(string image)
    {
        var colon = image.LastIndexOf(':');
        return colon > image.LastIndexOf('/') ? (image[..colon], image[(colon + 1)..]) : (image, "latest");
    }

    private static async Task RemoveTreeAsync(string dir, CancellationToken ct)
    {
        if (!Directory.Exists(dir))
            return;
        // A killed debootstrap leaves /proc and /sys of the new root mounted: unmount them first (deepest first).
        var mounts = File.ReadLines("/proc/self/mountinfo")
            .Select(line => line.Split(' ')[4].Replace("\\040", " "))
            .Where(m => m.StartsWith(dir + "/", StringComparison.Ordinal))
            .OrderByDescending(m => m.Length);
        foreach (var mount in mounts)
            await Cli.Wrap("umount").WithArguments(["-l", mount]).WithValidation(CommandResultValidation.None).ExecuteAsync(ct);
        // rm copes with the device nodes and read-only files that debootstrap leaves.
        var rm = await Cli.Wrap("rm").WithArguments(["-rf", "--one-file-system", dir])
            .WithValidation(CommandResultValidation.None).ExecuteAsync(ct);
        if (rm.ExitCode != 0 || Directory.Exists(dir))
            throw new DeployException($"building the lab image: cannot remove the old build root {dir}; remove it by hand");
    }

    [GeneratedRegex(@"^I: ((Retrieving|Validating) \S+ \S+|(Extracting|Unpacking|Configuring) \S+\.\.\.)$")]
    private static partial Regex PerPackageLine();

    [GeneratedRegex(@"^session\s+required\s+pam_loginuid\.so", RegexOptions.Multiline)]
    private static partial Regex LoginUidRequired();
}
