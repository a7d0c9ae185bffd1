using Deploy.Core.Transport;

namespace Deploy.Transport;

/// <summary>
/// The controller itself as a host: runs each script as <c>/bin/sh -s</c> with its text on stdin (as the user
/// running nf-deploy, no sudo). Scripts may run concurrently.
/// </summary>
public sealed class LocalShell(LocalCommand? runner = null) : IHostTransport
{
    private readonly LocalCommand _runner = runner ?? new LocalCommand();

    public string HostName => "localhost";

    public Task<ExecResult> RunAsync(string script, CancellationToken ct) =>
        _runner.RunAsync("/bin/sh", ["-s"], ct, ScriptEnvelope.Wrap(script));

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
