namespace Deploy.Tests;

/// <summary>./deploy run on a pseudo-terminal (util-linux <c>script</c>), as a person at a terminal runs it: stdout and
/// stderr are the terminal (and arrive merged, with <c>\r\n</c>); <paramref name="stdoutFile"/> sends stdout to a file
/// instead (stderr stays the terminal). CI is taken away unless given: the runner's CI must not decide the output.</summary>
public static class TerminalProcess
{
    public static async Task<(int Exit, string Screen)> RunAsync(string dir, IReadOnlyDictionary<string, string>? env, string? stdoutFile, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("script")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
            UseShellExecute = false, WorkingDirectory = dir,
        };
        var command = string.Join(" ", new[] { "dotnet", Path.Combine(AppContext.BaseDirectory, "nf-deploy.dll") }.Concat(args).Select(Quote));
        if (stdoutFile is not null) command += " > " + Quote(stdoutFile);
        foreach (var a in new[] { "-q", "-f", "-e", "-c", command, "/dev/null" }) psi.ArgumentList.Add(a);
        foreach (var v in new[] { "PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE", "NF_DEPLOY_PROJECT", "CI", "NO_COLOR" }) psi.Environment.Remove(v);
        psi.Environment["PULUMI_CONFIG_PASSPHRASE"] = SiteFixture.LabPassphrase;
        psi.Environment["TERM"] = "xterm-256color";
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        using var p = System.Diagnostics.Process.Start(psi)!;
        var ct = TestContext.Current.CancellationToken;
        var screen = p.StandardOutput.ReadToEndAsync(ct);
        var errors = p.StandardError.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct);
        return (p.ExitCode, await screen + await errors);
    }

    private static string Quote(string word) => "'" + word.Replace("'", "'\\''") + "'";
}
