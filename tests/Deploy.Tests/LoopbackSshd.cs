using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Deploy.Tests;

/// <summary>
/// Debian's sshd on 127.0.0.1 (a free port), letting in one key as the user running the tests: a host ./deploy
/// really connects to, reads and changes, which is this machine itself. Only for specs whose resources stay in a
/// folder of their own under /tmp.
/// </summary>
public sealed class LoopbackSshd : IDisposable
{
    public const string Binary = "/usr/sbin/sshd";

    private readonly Process _process;
    private readonly StringBuilder _log = new();

    private LoopbackSshd(string dir, string authorizedKey)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var hostKey = Path.Combine(dir, "host_key");
        Run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey);
        File.WriteAllText(Path.Combine(dir, "authorized_keys"), File.ReadAllText(authorizedKey));
        Directory.CreateDirectory("/run/sshd");
        var config = Path.Combine(dir, "sshd_config");
        File.WriteAllText(config, $"ListenAddress 127.0.0.1\nPort {Port}\nHostKey {hostKey}\nPidFile {dir}/sshd.pid\n" +
            $"AuthorizedKeysFile {dir}/authorized_keys\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n" +
            "KbdInteractiveAuthentication no\nStrictModes no\nUsePAM no\nAllowTcpForwarding no\nX11Forwarding no\nMaxSessions 10\n");
        var listening = new TaskCompletionSource();
        var psi = new ProcessStartInfo(Binary) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "-D", "-e", "-f", config }) psi.ArgumentList.Add(a);
        _process = new Process { StartInfo = psi };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (_log) _log.AppendLine(e.Data);
            if (e.Data.Contains($"Server listening on 127.0.0.1 port {Port}", StringComparison.Ordinal)) listening.TrySetResult();
        };
        _process.Start();
        _process.BeginErrorReadLine();
        if (!listening.Task.Wait(TimeSpan.FromSeconds(15))) throw new InvalidOperationException("sshd did not start:\n" + _log);
    }

    public int Port { get; }

    /// <summary>Null when sshd is not installed (the spec then says so and does nothing).</summary>
    public static LoopbackSshd? Start(string dir, string authorizedKey) => File.Exists(Binary) ? new LoopbackSshd(dir, authorizedKey) : null;

    private static void Run(string file, params string[] args)
    {
        using var p = Process.Start(file, args);
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} failed");
    }

    public void Dispose()
    {
        try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        _process.WaitForExit(5000);
        _process.Dispose();
    }
}
