using System.Text;
using Deploy.Core.Model;
using Deploy.Core.Probes;
using Deploy.Core.Resources;

namespace Deploy.Resources;

/// <summary>Helpers to run provider scripts and turn their failures into per-host, per-resource errors.</summary>
internal static class Script
{
    /// <summary>Runs <paramref name="script"/> and, when it succeeds, parses the probe output that follows a marker.</summary>
    public static async Task<Dictionary<string, string>> RunAndProbeAsync(
        HostRun run, string resource, string script, string probe, CancellationToken ct)
    {
        var full = "set -e\n" + script.TrimEnd() + "\n" + ProbeProtocol.ThenProbe(probe);
        var res = await run.Transport.RunAsync(full, ct);
        if (!res.Ok) throw Failure(run, resource, res.ExitCode, res.Stdout, res.Stderr);
        return ProbeProtocol.AfterProbe(res.Stdout);
    }

    public static async Task RunAsync(HostRun run, string resource, string script, CancellationToken ct)
    {
        var res = await run.Transport.RunAsync("set -e\n" + script, ct);
        if (!res.Ok) throw Failure(run, resource, res.ExitCode, res.Stdout, res.Stderr);
    }

    public static ResourceException Failure(HostRun run, string resource, int code, string stdout, string stderr)
    {
        var text = (stderr.Trim().Length > 0 ? stderr : stdout).Trim();
        var lines = text.Split('\n');
        var tail = string.Join("\n    ", lines.Skip(Math.Max(0, lines.Length - 12)));
        var what = code == ValidationFailed ? "validation failed, the old content stays" : $"failed (exit {code})";
        return new ResourceException(run.Transport.HostName, resource, $"{what}:\n    {tail}");
    }

    /// <summary>Exit code a file's script uses when its validate command rejected the new content.</summary>
    public const int ValidationFailed = 65;

    /// <summary>A here-document carrying bytes as base64 into a file.</summary>
    public static string WriteBase64(string target, string content)
    {
        var b64 = Convert.ToBase64String(Encoding.UTF8.GetBytes(content), Base64FormattingOptions.InsertLineBreaks);
        return $"base64 -d > {target} <<'NFD_EOF'\n{b64.Replace("\r", "")}\nNFD_EOF\n";
    }
}
