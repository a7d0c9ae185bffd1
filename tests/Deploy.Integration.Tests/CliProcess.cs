using System.Diagnostics;
using System.Text;

namespace Deploy.Integration.Tests;

/// <summary>The real nf-deploy program run as a child process (as an operator runs it), so that it can be killed or
/// signalled mid-run. Its output is collected line by line.</summary>
public sealed class CliProcess : IDisposable
{
    private readonly Process _p;
    private readonly StringBuilder _out = new();
    private readonly StringBuilder _err = new();
    private readonly object _gate = new();

    public CliProcess(string projectDir, IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        var psi = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "nf-deploy"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("--cwd");
        psi.ArgumentList.Add(projectDir);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["PULUMI_CONFIG_PASSPHRASE"] = LabSite.LabPassphrase; // the lab stack's secrets
        psi.Environment.Remove("PULUMI_CONFIG_PASSPHRASE_FILE");
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        _p = new Process { StartInfo = psi };
        _p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_gate) _out.Append(e.Data).Append('\n'); };
        _p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_gate) _err.Append(e.Data).Append('\n'); };
        _p.Start();
        _p.StandardInput.Close();
        _p.BeginOutputReadLine();
        _p.BeginErrorReadLine();
    }

    public int Pid => _p.Id;

    public string Out { get { lock (_gate) return _out.ToString(); } }

    public string Err { get { lock (_gate) return _err.ToString(); } }

    /// <summary>Waits until a line of stderr (the progress log) contains <paramref name="text"/>.</summary>
    public async Task WaitForLogAsync(string text, TimeSpan timeout, CancellationToken ct)
    {
        var until = DateTime.UtcNow + timeout;
        while (!Err.Contains(text, StringComparison.Ordinal))
        {
            if (_p.HasExited && !Err.Contains(text, StringComparison.Ordinal))
                throw new InvalidOperationException($"nf-deploy exited ({_p.ExitCode}) before logging '{text}':\n{Out}\n{Err}");
            if (DateTime.UtcNow > until) throw new TimeoutException($"nf-deploy did not log '{text}' in {timeout}:\n{Err}");
            await Task.Delay(5, ct);
        }
    }

    /// <summary>kill -9: no handler runs, nothing is flushed or released.</summary>
    public void KillHard() => _p.Kill(entireProcessTree: false);

    public void Signal(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, _p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    public async Task<int> ExitAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        await _p.WaitForExitAsync(cts.Token);
        _p.WaitForExit(); // drains the output readers
        return _p.ExitCode;
    }

    public static async Task<(int Exit, string Out, string Err)> RunAsync(string projectDir, IReadOnlyDictionary<string, string>? env, CancellationToken ct, params string[] args)
    {
        using var p = new CliProcess(projectDir, env, args);
        var exit = await p.ExitAsync(TimeSpan.FromMinutes(10), ct);
        return (exit, p.Out, p.Err);
    }

    public void Dispose()
    {
        if (!_p.HasExited) _p.Kill(entireProcessTree: true);
        _p.Dispose();
    }
}
