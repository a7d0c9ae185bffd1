using System.Diagnostics;
using System.Text;

namespace Deploy.Tests;

/// <summary>The real nf-deploy program (built beside the tests) as a child process, as an operator or a CI job runs
/// it: with its own environment (the backend URL), killable mid-run. Output is collected as it comes.</summary>
public sealed class BackendCliProcess : IDisposable
{
    private readonly Process _p;
    private readonly StringBuilder _out = new();
    private readonly StringBuilder _err = new();

    public BackendCliProcess(string projectDir, IReadOnlyDictionary<string, string> env, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = projectDir,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "nf-deploy.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var v in new[] { "PULUMI_CONFIG_PASSPHRASE_FILE", "NF_DEPLOY_PROJECT", "PULUMI_BACKEND_URL", "PGPASSWORD", "PGPASSFILE" }) psi.Environment.Remove(v);
        psi.Environment["PULUMI_CONFIG_PASSPHRASE"] = SiteFixture.LabPassphrase;
        foreach (var (k, v) in env) psi.Environment[k] = v;
        _p = new Process { StartInfo = psi };
        _p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_out) _out.Append(e.Data).Append('\n'); };
        _p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_err) _err.Append(e.Data).Append('\n'); };
        _p.Start();
        _p.StandardInput.Close();
        _p.BeginOutputReadLine();
        _p.BeginErrorReadLine();
    }

    public int Pid => _p.Id;

    public bool HasExited => _p.HasExited;

    public string Out { get { lock (_out) return _out.ToString(); } }

    public string Err { get { lock (_err) return _err.ToString(); } }

    /// <summary>kill -9: no handler runs, nothing is released.</summary>
    public void KillHard() => _p.Kill(entireProcessTree: false);

    public async Task<int> ExitAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        await _p.WaitForExitAsync(cts.Token);
        _p.WaitForExit();
        return _p.ExitCode;
    }

    public static async Task<(int Exit, string Out, string Err)> RunAsync(string projectDir, IReadOnlyDictionary<string, string> env, params string[] args)
    {
        using var p = new BackendCliProcess(projectDir, env, args);
        var exit = await p.ExitAsync(TimeSpan.FromMinutes(3), TestContext.Current.CancellationToken);
        return (exit, p.Out, p.Err);
    }

    public void Dispose()
    {
        if (!_p.HasExited) _p.Kill(entireProcessTree: true);
        _p.Dispose();
    }
}
