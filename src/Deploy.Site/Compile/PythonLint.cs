using System.Diagnostics;
using Deploy.Core.Model;

namespace Deploy.Site.Compile;

/// <summary>
/// <c>lint: python</c>: the content must compile with the controller's python3 (<c>compile()</c>, which parses without
/// running anything: a KEMI script with a syntax error never reaches a host).
/// </summary>
public sealed class PythonLint : ILint
{
    private const string PythonCheck = """
        import sys
        src = sys.stdin.read()
        try:
            compile(src, sys.argv[1], "exec")
        except SyntaxError as e:
            text = (e.text or "").strip()
            print("%d\t%s%s" % (e.lineno or 0, e.msg, (": " + text) if text else ""))
            sys.exit(1)
        """;

    public string Name => "python";

    public string Requires => "the content must compile with python3";

    /// <exception cref="DeployException">python3 is not on the controller, or did not finish within 30 s.</exception>
    public LintProblem? Check(string name, string content, CancellationToken ct)
    {
        var start = new ProcessStartInfo("python3")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(PythonCheck);
        start.ArgumentList.Add(name);
        Process python;
        try { python = Process.Start(start) ?? throw new DeployException("python3 did not start"); }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new DeployException("python3 is not installed on this controller: it is needed to check Python (KEMI) scripts " +
                "before they reach a host (lint: python). Install it (apt-get install python3) and run again");
        }
        using (python)
        {
            python.StandardInput.Write(content);
            python.StandardInput.Close();
            var stdout = python.StandardOutput.ReadToEndAsync(ct);
            var stderr = python.StandardError.ReadToEndAsync(ct);
            if (!python.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                python.Kill(entireProcessTree: true);
                throw new DeployException("python3 did not finish checking a script within 30 s");
            }
            ct.ThrowIfCancellationRequested();
            if (python.ExitCode == 0) return null;
            var line = stdout.GetAwaiter().GetResult().Trim();
            var tab = line.IndexOf('\t', StringComparison.Ordinal);
            return tab > 0 && int.TryParse(line[..tab], out var number)
                ? new LintProblem(number, line[(tab + 1)..])
                : new LintProblem(0, (line + " " + stderr.GetAwaiter().GetResult()).Trim());
        }
    }
}
