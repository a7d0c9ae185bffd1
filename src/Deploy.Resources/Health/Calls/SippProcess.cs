using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;

namespace Deploy.Resources.Health.Calls;

/// <summary>How a SIPp run ended: passed or not, and why (the SIP response it got or the timeout), with its log.</summary>
public sealed record SippOutcome(bool Ok, string Detail, string Log);

/// <summary>
/// One SIPp run on the controller: its scenario (already rendered) in a temp dir, its arguments an argument list (never a
/// shell string), its errors and messages traced to files there (-trace_err, -trace_msg) for the failure report.
/// </summary>
public sealed class SippProcess : IAsyncDisposable
{
    /// <summary>Debian's sip-tester.</summary>
    public static string Binary { get; set; } = "sipp";

    private readonly Process _process;
    private readonly string _errors, _messages;
    private readonly StringBuilder _output = new();
    private readonly CallStep _step;

    private SippProcess(CallStep step, Process process, string errors, string messages)
    {
        (_step, _process, _errors, _messages) = (step, process, errors, messages);
    }

    /// <param name="port">The local port (a background UAS listens there); null: any.</param>
    /// <param name="keys">SIPp keywords for the scenario: <c>[name]</c> is the value (-key name value).</param>
    public static async Task<SippProcess> StartAsync(CallStep step, string dir, IPAddress local, int? port, IReadOnlyDictionary<string, string> keys, CancellationToken ct)
    {
        var file = Path.Combine(dir, step.Id + ".xml");
        await File.WriteAllTextAsync(file, step.Xml, ct);
        var psi = new ProcessStartInfo(Binary)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false, WorkingDirectory = dir,
        };
        var args = psi.ArgumentList;
        if (!step.Background)
        {
            // the node: an IP literal and port (no name lookup: the test reaches only the site's own addresses)
            if (step.To is null || !IPEndPoint.TryParse(step.To, out var to) || to.Port == 0)
                throw new Core.Model.DeployException($"call test step '{step.Name}': 'to' must be an IP address and port, not '{step.To}'");
            args.Add(to.ToString());
            args.Add("-recv_timeout"); args.Add("5000");
        }
        foreach (var a in new[] { "-sf", file, "-i", local.ToString(), "-t", step.Transport == "tcp" ? "t1" : "u1", "-m", "1", "-nostdin",
                     "-timeout", $"{(int)step.Timeout.TotalSeconds}s", "-timeout_error",
                     "-trace_err", "-error_file", file + ".errors.log", "-trace_msg", "-message_file", file + ".messages.log" })
            args.Add(a);
        if (port is { } p) { args.Add("-p"); args.Add(p.ToString(CultureInfo.InvariantCulture)); }
        if (step.User is { } user) { args.Add("-s"); args.Add(user); }
        foreach (var (k, v) in keys) { args.Add("-key"); args.Add(k); args.Add(v); }
        var process = new Process { StartInfo = psi };
        var sipp = new SippProcess(step, process, file + ".errors.log", file + ".messages.log");
        process.OutputDataReceived += (_, e) => sipp.Append(e.Data);
        process.ErrorDataReceived += (_, e) => sipp.Append(e.Data);
        try { process.Start(); }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new Core.Model.DeployException($"cannot run {Binary} for the call tests ({e.Message}): install SIPp on the controller (apt-get install sip-tester)");
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.StandardInput.Close();
        return sipp;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) { if (_output.Length < 20_000) _output.AppendLine(line); }
    }

    /// <summary>Waits for SIPp to end (its own -timeout ends it; <paramref name="grace"/> more at most) and says how it went.</summary>
    public async Task<SippOutcome> WaitAsync(TimeSpan grace, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(_step.Timeout + grace);
        var killed = false;
        try { await _process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested) { Kill(); killed = true; await _process.WaitForExitAsync(CancellationToken.None); }
        var errors = Read(_errors);
        var messages = Read(_messages);
        if (!killed && _process.ExitCode == 0) return new SippOutcome(true, Received(messages) ?? "passed", "");
        string output;
        lock (_output) output = _output.ToString();
        var why = killed ? $"no end after {(_step.Timeout + grace).TotalSeconds:0} s (killed)" : SippLog.Explain(_process.ExitCode, errors, output, _step.Xml);
        return new SippOutcome(false, why, SippLog.Excerpt(errors, messages, output));
    }

    /// <summary>The last SIP response SIPp received: what the node answered.</summary>
    private static string? Received(string messages) => SippLog.LastResponse(messages);

    /// <summary>Ends a background UAS that is still waiting (the call never reached it).</summary>
    public void Kill()
    {
        try { if (!_process.HasExited) _process.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { }
    }

    public bool HasExited => _process.HasExited;

    private static string Read(string path)
    {
        try { return File.Exists(path) ? File.ReadAllText(path) : ""; }
        catch (IOException) { return ""; }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        try { await _process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5)); }
        catch (TimeoutException) { }
        _process.Dispose();
    }
}
