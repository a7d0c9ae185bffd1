namespace Deploy.Core.Transport;

/// <summary>
/// The connection a site-wide check runs on: the host's own, plus every other host's connection of the run (a call test
/// reads the registrations of every node of a cluster). It does not own the connections it lends.
/// </summary>
public sealed class SiteTransport(IHostTransport own, IReadOnlyDictionary<string, IHostTransport> hosts) : IHostTransport
{
    public string HostName => own.HostName;

    /// <summary>The connections of the run, by host name.</summary>
    public IReadOnlyDictionary<string, IHostTransport> Hosts => hosts;

    public Task<ExecResult> RunAsync(string script, CancellationToken ct) => own.RunAsync(script, ct);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
