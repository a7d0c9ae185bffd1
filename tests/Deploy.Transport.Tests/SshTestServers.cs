using Xunit;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Deploy.Transport.Tests;

/// <summary>Runs a helper program (ssh-keygen, ssh) and returns its stdout; throws when it fails.</summary>
internal static class Tool
{
    public static async Task<(int ExitCode, string Stdout, string Stderr)> TryRunAsync(string file, IEnumerable<string> args, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        try
        {
            await p.WaitForExitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw;
        }
        return (p.ExitCode, await stdout, await stderr);
    }

    public static async Task<string> RunAsync(string file, IEnumerable<string> args, CancellationToken ct)
    {
        var (code, stdout, stderr) = await TryRunAsync(file, args, ct);
        if (code != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({code}): {stderr}");
        return stdout;
    }

    /// <summary>Creates an unencrypted OpenSSH key pair; returns the private key path.</summary>
    public static async Task<string> KeygenAsync(string path, string type, CancellationToken ct)
    {
        File.Delete(path);
        File.Delete(path + ".pub");
        var args = new List<string> { "-q", "-t", type, "-N", "", "-C", "nf-deploy-test", "-f", path };
        if (type == "rsa")
            args.InsertRange(0, ["-b", "3072"]);
        await RunAsync("ssh-keygen", args, ct);
        return path;
    }

    /// <summary>The SHA256 fingerprint of a public key file as ssh-keygen prints it.</summary>
    public static async Task<string> FingerprintAsync(string publicKeyFile, CancellationToken ct) =>
        (await RunAsync("ssh-keygen", ["-l", "-E", "sha256", "-f", publicKeyFile], ct)).Split(' ')[1];

    /// <summary>A loopback TCP port that nothing listens on (at the time of the call).</summary>
    public static int FreeLoopbackPort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }
}

/// <summary>
/// A real OpenSSH server for tests: <c>/usr/sbin/sshd -D -e</c> with a generated config and host key,
/// listening on 127.0.0.1 only, on a free port.
/// </summary>
internal sealed class Sshd : IAsyncDisposable
{
    public const string Binary = "/usr/sbin/sshd";

    private readonly StringBuilder _log = new();
    private readonly string _authorizedKeys;
    private readonly string _logLevel;
    private readonly bool _allowTcpForwarding;
    private Process? _process;

    private Sshd(string dir, int port, string hostKeyType, string authorizedKeys, string logLevel, bool allowTcpForwarding)
    {
        Dir = dir;
        Port = port;
        HostKeyType = hostKeyType;
        _authorizedKeys = authorizedKeys;
        _logLevel = logLevel;
        _allowTcpForwarding = allowTcpForwarding;
    }

    public string Dir { get; }
    public int Port { get; }
    public string HostKeyType { get; }
    public string HostKeyFile => Path.Combine(Dir, "ssh_host_key");
    public string HostPublicKey => File.ReadAllText(HostKeyFile + ".pub").Trim();

    public string Log
    {
        get
        {
            lock (_log)
                return _log.ToString();
        }
    }

    public Task<string> HostKeyFingerprintAsync(CancellationToken ct) => Tool.FingerprintAsync(HostKeyFile + ".pub", ct);

    public static async Task<Sshd> StartAsync(string parentDir, string name, string authorizedKeys, CancellationToken ct,
        string hostKeyType = "ed25519", string logLevel = "INFO", bool allowTcpForwarding = false)
    {
        if (!File.Exists(Binary))
            throw new InvalidOperationException($"{Binary} is missing: install the Debian package openssh-server to run these tests");
        if (!OperatingSystem.IsWindows() && !Directory.Exists("/run/sshd"))
            Directory.CreateDirectory("/run/sshd", UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var dir = Path.Combine(parentDir, name);
        Directory.CreateDirectory(dir);
        var server = new Sshd(dir, Tool.FreeLoopbackPort(), hostKeyType, authorizedKeys, logLevel, allowTcpForwarding);
        await Tool.KeygenAsync(server.HostKeyFile, hostKeyType, ct);
        await server.LaunchAsync(ct);
        return server;
    }

    /// <summary>Stops the server (and the sessions it serves) and starts it again on the same port, with a new host key if asked.</summary>
    public async Task RestartAsync(bool newHostKey, CancellationToken ct)
    {
        await StopAsync();
        if (newHostKey)
            await Tool.KeygenAsync(HostKeyFile, HostKeyType, ct);
        await LaunchAsync(ct);
    }

    private async Task LaunchAsync(CancellationToken ct)
    {
        var config = Path.Combine(Dir, "sshd_config");
        await File.WriteAllTextAsync(config, $"""
            ListenAddress 127.0.0.1
            Port {Port}
            HostKey {HostKeyFile}
            PidFile {Path.Combine(Dir, "sshd.pid")}
            AuthorizedKeysFile {_authorizedKeys}
            PermitRootLogin prohibit-password
            PubkeyAuthentication yes
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            StrictModes no
            UsePAM no
            AllowTcpForwarding {(_allowTcpForwarding ? "yes" : "no")}
            AllowAgentForwarding no
            X11Forwarding no
            PermitTunnel no
            MaxSessions 10
            LogLevel {_logLevel}

            """, ct);
        lock (_log)
            _log.Clear();
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var psi = new ProcessStartInfo(Binary)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "-D", "-e", "-f", config })
            psi.ArgumentList.Add(a);
        var p = new Process { StartInfo = psi, EnableRaisingEvents = true };
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (_log)
                _log.AppendLine(e.Data);
            if (e.Data.Contains($"Server listening on 127.0.0.1 port {Port}", StringComparison.Ordinal))
                listening.TrySetResult();
        };
        p.OutputDataReceived += (_, _) => { };
        p.Exited += (_, _) => listening.TrySetException(new InvalidOperationException($"sshd exited early:\n{Log}"));
        p.Start();
        p.StandardInput.Close();
        p.BeginErrorReadLine();
        p.BeginOutputReadLine();
        _process = p;
        await listening.Task.WaitAsync(TimeSpan.FromSeconds(15), ct);
    }

    private async Task StopAsync()
    {
        if (_process is not { } p)
            return;
        _process = null;
        try
        {
            if (!p.HasExited)
                p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (InvalidOperationException)
        {
        }
        finally
        {
            p.Dispose();
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}
