using System.Collections.Concurrent;
using System.Diagnostics;
using Deploy.Core.Model;
using Deploy.Core.Resources;

namespace Deploy.Site.Compile;

/// <summary>A problem a lint found in rendered content: the line of the content (1-based, 0 unknown) and what is wrong.</summary>
public sealed record LintProblem(int Line, string Message);

/// <summary>
/// Checks of rendered content made on the controller when the site is compiled, before any host is touched.
/// <c>python</c>: the content must compile with the controller's python3 (<c>compile()</c>, which parses without
/// running anything: a KEMI script with a syntax error never reaches a host). Results are kept per content.
/// </summary>
public static class Lint
{
    private static readonly ConcurrentDictionary<string, LintProblem?> Cache = new();

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

    /// <returns>Null when the content passes.</returns>
    /// <exception cref="DeployException">python3 is not on the controller.</exception>
    public static LintProblem? Check(string kind, string name, string content, CancellationToken ct) => kind switch
    {
        "python" => Cache.GetOrAdd("python:" + Hashing.Sha256Hex(content), _ => Python(name, content, ct)),
        _ => throw new DeployException($"unknown lint '{kind}'"),
    };

    private static LintProblem? Python(string name, string content, CancellationToken ct)
    {
        var psi = new ProcessStartInfo("python3") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(PythonCheck);
        psi.ArgumentList.Add(name);
        Process p;
        try { p = Process.Start(psi) ?? throw new DeployException("python3 did not start"); }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new DeployException("python3 is not installed on this controller: it is needed to check Python (KEMI) scripts before they " +
                "reach a host (lint: python). Install it (apt-get install python3) and run again");
        }
        using (p)
        {
            p.StandardInput.Write(content);
            p.StandardInput.Close();
            var stdout = p.StandardOutput.ReadToEndAsync(ct);
            var stderr = p.StandardError.ReadToEndAsync(ct);
            if (!p.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                p.Kill(entireProcessTree: true);
                throw new DeployException("python3 did not finish checking a script within 30 s");
            }
            ct.ThrowIfCancellationRequested();
            if (p.ExitCode == 0) return null;
            var line = stdout.GetAwaiter().GetResult().Trim();
            var tab = line.IndexOf('\t', StringComparison.Ordinal);
            return tab > 0 && int.TryParse(line[..tab], out var n)
                ? new LintProblem(n, line[(tab + 1)..])
                : new LintProblem(0, (line + " " + stderr.GetAwaiter().GetResult()).Trim());
        }
    }
}
