using Deploy.Core.Model;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Deploy.Lab;

/// <summary>Runs a shell script inside a running container through the Docker exec API.</summary>
internal sealed class ContainerExec(IDockerClient docker)
{
    public sealed record Result(long ExitCode, string Stdout, string Stderr);

    /// <summary>Runs <c>/bin/sh -c script</c> as root; values are passed as environment variables so that nothing
    /// needs shell quoting.</summary>
    public async Task<Result> RunAsync(string containerId, string script, IReadOnlyDictionary<string, string> env,
        CancellationToken ct)
    {
        var exec = await docker.Exec.ExecCreateContainerAsync(containerId, new ContainerExecCreateParameters
        {
            User = "root",
            AttachStdout = true,
            AttachStderr = true,
            Env = env.Select(kv => $"{kv.Key}={kv.Value}").ToList(),
            Cmd = ["/bin/sh", "-c", script],
        }, ct);
        using (var stream = await docker.Exec.StartAndAttachContainerExecAsync(exec.ID, false, ct))
        {
            var (stdout, stderr) = await stream.ReadOutputToEndAsync(ct);
            var inspect = await docker.Exec.InspectContainerExecAsync(exec.ID, ct);
            return new Result(inspect.ExitCode, stdout, stderr);
        }
    }

    /// <summary>Like <see cref="RunAsync"/>, and throws a DeployException naming <paramref name="what"/> on a
    /// non-zero exit.</summary>
    public async Task<string> RunCheckedAsync(string containerId, string what, string script,
        IReadOnlyDictionary<string, string> env, CancellationToken ct)
    {
        var result = await RunAsync(containerId, script, env, ct);
        if (result.ExitCode != 0)
        {
            var detail = (result.Stderr.Trim() is { Length: > 0 } err ? err : result.Stdout.Trim());
            throw new DeployException($"{what} failed (exit {result.ExitCode}): {detail}");
        }
        return result.Stdout;
    }
}
