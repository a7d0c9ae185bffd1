using System.Text.RegularExpressions;
using Deploy.Core.Model;
using Deploy.Core.Transport;

namespace Deploy.Resources.Health.Kinds;

/// <summary><c>command</c> (command, optional expect: a regex): run on the host; it passes when it exits 0 and its
/// output matches.</summary>
public sealed class CommandCheck : HealthCheckKind
{
    public override string Name => "command";

    public override async Task<HealthResult> RunOnceAsync(HealthCheckSpec check, IHostTransport transport, CancellationToken ct)
    {
        var result = await transport.RunAsync(check.Args["command"], ct);
        var output = (result.Stdout + result.Stderr).Trim();
        if (!result.Ok) return new HealthResult(false, $"exit {result.ExitCode}: {Tail(output)}");
        if (check.Args.TryGetValue("expect", out var expect) && !Regex.IsMatch(result.Stdout, expect, RegexOptions.Multiline))
            return new HealthResult(false, $"output does not match /{expect}/: {Tail(output)}");
        return new HealthResult(true, Tail(output));
    }
}
