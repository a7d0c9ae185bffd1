namespace Deploy.Tests;

/// <summary>./deploy itself (the nf-deploy program built beside the tests) run as a child process in a project folder.</summary>
public static class DeployProcess
{
    public static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string dir, IReadOnlyDictionary<string, string?>? env, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
            UseShellExecute = false, WorkingDirectory = dir,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "nf-deploy.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var v in new[] { "PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE", "NF_DEPLOY_PROJECT" }) psi.Environment.Remove(v);
        psi.Environment["PULUMI_CONFIG_PASSPHRASE"] = SiteFixture.LabPassphrase;
        foreach (var (k, v) in env ?? new Dictionary<string, string?>()) psi.Environment[k] = v;
        using var p = System.Diagnostics.Process.Start(psi)!;
        p.StandardInput.Close();
        var ct = TestContext.Current.CancellationToken;
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct);
        return (p.ExitCode, await stdout, await stderr);
    }
}
