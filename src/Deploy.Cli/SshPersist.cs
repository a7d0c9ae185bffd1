using System.Diagnostics;
using Deploy.Core.Secrets;
using Deploy.Core.Transport;
using Deploy.Transport;
using Deploy.Transport.Persist;

namespace Deploy.Cli;

/// <summary>
/// Opt-in reuse of SSH connections across runs (<c>NF_DEPLOY_SSH_PERSIST=5m</c>, like OpenSSH's ControlPersist): the
/// connections are held by a background broker of the user's, which exits after that long without a run.
/// </summary>
public static class SshPersist
{
    public const string Variable = "NF_DEPLOY_SSH_PERSIST";

    /// <summary>The direct connector, or one through the broker when the user asked for reuse.</summary>
    public static IHostConnector Wrap(IHostConnector direct, string knownHostsFile, Action<string> warn) =>
        OperatingSystem.IsLinux() && Broker(warn) is (string socket, TimeSpan idle)
            ? new PersistConnector(socket, knownHostsFile, ct => StartBrokerAsync(socket, idle, ct))
            : direct;

    /// <summary>With reuse asked for, the broker also keeps the passphrase's derived key between runs; else null. Says
    /// nothing of a setting it cannot use (<see cref="Wrap"/> does).</summary>
    public static IDerivedKeyCache? KeyCache() =>
        OperatingSystem.IsLinux() && Broker(null) is (string socket, TimeSpan) ? new PersistKeyCache(socket) : null;

    private static (string Socket, TimeSpan Idle)? Broker(Action<string>? warn)
    {
        var setting = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrWhiteSpace(setting) || setting is "0" or "off" or "no" || !OperatingSystem.IsLinux()) return null;
        if (ParseIdle(setting) is not { } idle)
        {
            warn?.Invoke($"{Variable}='{setting}' is not a duration (300, 90s, 5m, 1h): connecting directly");
            return null;
        }
        var (socket, problem) = PersistSocket.Locate();
        if (socket is null)
        {
            warn?.Invoke($"SSH connections are not kept ({problem}): connecting directly");
            return null;
        }
        return (socket, idle);
    }

    /// <summary>Seconds (300), or a number with s, m or h; at most a day.</summary>
    public static TimeSpan? ParseIdle(string text)
    {
        text = text.Trim();
        var hasUnit = text.Length > 0 && char.IsLetter(text[^1]);
        var unit = hasUnit ? text[^1] : 's';
        var number = hasUnit ? text[..^1] : text;
        if (!int.TryParse(number, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value)
            || value <= 0)
            return null;
        TimeSpan? idle = unit switch
        {
            's' => TimeSpan.FromSeconds(value),
            'm' => TimeSpan.FromMinutes(value),
            'h' => TimeSpan.FromHours(value),
            _ => null,
        };
        return idle <= TimeSpan.FromDays(1) ? idle : null;
    }

    /// <summary>The broker: this program again, in a session of its own (it outlives this run), its output discarded.</summary>
    private static async Task StartBrokerAsync(string socket, TimeSpan idle, CancellationToken ct)
    {
        var program = System.Reflection.Assembly.GetEntryAssembly()?.Location
            ?? throw new InvalidOperationException("no entry assembly");
        var start = new ProcessStartInfo("setsid") { UseShellExecute = false };
        foreach (var arg in new[] { "-f", "sh", "-c", "exec \"$0\" \"$@\" </dev/null >/dev/null 2>&1",
            Environment.ProcessPath ?? "dotnet", program, "ssh-broker", "--socket", socket, "--idle", ((int)idle.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture) })
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("setsid did not start");
        await process.WaitForExitAsync(ct);
    }

    /// <summary>The broker's own main: serves until idle.</summary>
    public static async Task<int> ServeAsync(string socket, int idleSeconds, CancellationToken ct)
    {
        if (!OperatingSystem.IsLinux()) return ExitCodes.Failed;
        var broker = new PersistBroker(file => new SshHostConnector(new KnownHosts(file)), socket, TimeSpan.FromSeconds(Math.Max(1, idleSeconds)));
        await broker.RunAsync(ct);
        return 0;
    }
}
