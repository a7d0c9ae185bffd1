using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Deploy.Core.Model;
using Deploy.Core.Transport;

namespace Deploy.Resources.Health.Calls;

/// <summary>
/// Runs a call test from the controller: SIPp scenarios towards the site's nodes (background ones, a UAS, listen on the
/// controller's address on the way to the nodes), commands on the site's hosts, in order until one fails; then the
/// cleanup steps, always (unregistering what was registered). Each step's result and duration go to the report.
/// </summary>
public static class CallTestRunner
{
    public static async Task<HealthResult> RunAsync(HealthCheckSpec check, IHostTransport transport, CancellationToken ct)
    {
        // a test that cannot run (SIPp missing, a step that names no node) fails as a check, with the reason
        try { return await RunCoreAsync(check, transport, ct); }
        catch (DeployException e) { return new HealthResult(false, e.Message); }
    }

    private static async Task<HealthResult> RunCoreAsync(HealthCheckSpec check, IHostTransport transport, CancellationToken ct)
    {
        var test = CallTest.From(check);
        var dir = Directory.CreateTempSubdirectory("nfd-call-").FullName;
        var results = new List<CallStepResult>();
        var background = new List<(CallStep Step, SippProcess Sipp, Stopwatch Clock)>();
        var clock = Stopwatch.StartNew();
        string? failure = null;
        try
        {
            var first = test.Steps.Concat(test.Cleanup).FirstOrDefault(s => s.To is not null && IPEndPoint.TryParse(s.To, out _))
                ?? throw new DeployException($"call test {test.Name}: no step says which node it sends to ('to: ip:port')");
            var local = LocalAddressTowards(IPEndPoint.Parse(first.To!));
            var ports = new Dictionary<string, int>();
            var keys = new Dictionary<string, string> { ["controller_ip"] = local.ToString() };
            foreach (var s in test.Steps.Where(s => s.Background))
            {
                ports[s.Id] = FreePort(local, s.Transport);
                keys[$"{s.Name}_port"] = ports[s.Id].ToString(CultureInfo.InvariantCulture);
            }
            foreach (var s in test.Steps.Concat(test.Cleanup).Where(s => s.Contact is not null))
                if (!test.Steps.Any(b => b.Background && b.Name == s.Contact))
                    throw new DeployException($"call test {test.Name}, step '{s.Name}': contact '{s.Contact}' is not a background step of the test");

            foreach (var step in test.Steps)
            {
                var sw = Stopwatch.StartNew();
                if (step.Background)
                {
                    background.Add((step, await SippProcess.StartAsync(step, dir, local, ports[step.Id], StepKeys(step, keys, ports[step.Id]), ct), sw));
                    await Task.Delay(300, ct); // listening before anything is sent its way
                    continue;
                }
                var (ok, detail) = step.IsSipp ? await SippAsync(step, dir, local, keys, ct) : await CommandAsync(step, transport, ct);
                results.Add(new CallStepResult(step.Name, ok, sw.ElapsedMilliseconds, detail));
                if (!ok) { failure = Failed(check, step, detail); break; }
            }
            foreach (var (step, sipp, sw) in background)
            {
                if (failure is not null) { sipp.Kill(); results.Add(new CallStepResult(step.Name, false, sw.ElapsedMilliseconds, "stopped: the test failed before its call")); continue; }
                var o = await sipp.WaitAsync(TimeSpan.FromSeconds(5), ct);
                var detail = o.Ok ? o.Detail : o.Detail + "\n" + o.Log;
                results.Add(new CallStepResult(step.Name, o.Ok, sw.ElapsedMilliseconds, detail));
                if (!o.Ok) failure ??= Failed(check, step, detail);
            }
        }
        finally
        {
            foreach (var (_, sipp, _) in background) await sipp.DisposeAsync();
            // cleanup runs even when the test failed or was cancelled (then with a short timeout of its own)
            using var cleanupCt = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            foreach (var step in test.Cleanup)
            {
                var sw = Stopwatch.StartNew();
                try
                {
                    var local = LocalAddressTowards(IPEndPoint.Parse(step.To ?? "127.0.0.1:5060"));
                    var (ok, detail) = step.IsSipp ? await SippAsync(step, dir, local, new Dictionary<string, string> { ["controller_ip"] = local.ToString() }, cleanupCt.Token)
                        : await CommandAsync(step, transport, cleanupCt.Token);
                    results.Add(new CallStepResult(step.Name, ok, sw.ElapsedMilliseconds, detail, Cleanup: true));
                    if (!ok) failure ??= "cleanup " + Failed(check, step, detail);
                }
                catch (Exception e) when (e is DeployException or OperationCanceledException or FormatException)
                {
                    results.Add(new CallStepResult(step.Name, false, sw.ElapsedMilliseconds, e.Message, Cleanup: true));
                    failure ??= "cleanup " + Failed(check, step, e.Message);
                }
            }
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
        var steps = string.Join("; ", results.Select(r => $"{r.Name}: {(r.Ok ? "ok" : "FAILED")} ({r.Milliseconds} ms)"));
        return failure is null
            ? new HealthResult(true, $"call test {test.Name} passed in {clock.ElapsedMilliseconds} ms: {steps}") { Steps = [.. results] }
            : new HealthResult(false, $"call test {test.Name}: {failure}") { Steps = [.. results] };
    }

    private static string Failed(HealthCheckSpec check, CallStep step, string detail) =>
        $"step '{step.Name}'{(step.Scenario is { } sc ? $" (scenario {sc}{(step.To is { } to ? " to " + to : "")})" : "")} of {check.Nf} (nf.yaml:{step.Line}) failed: {detail}";

    private static async Task<(bool, string)> SippAsync(CallStep step, string dir, IPAddress local, IReadOnlyDictionary<string, string> keys, CancellationToken ct)
    {
        var port = FreePort(local, step.Transport);
        await using var sipp = await SippProcess.StartAsync(step, dir, local, port, StepKeys(step, keys, port), ct);
        var o = await sipp.WaitAsync(TimeSpan.FromSeconds(5), ct);
        return (o.Ok, o.Ok ? o.Detail : o.Detail + "\n" + o.Log);
    }

    /// <summary>The keywords a scenario sees: [from_user] (the step's from), [contact_port] (the port of the background step
    /// named by contact, else the step's own), [controller_ip] and [NAME_port] of every background step.</summary>
    private static Dictionary<string, string> StepKeys(CallStep step, IReadOnlyDictionary<string, string> keys, int ownPort) =>
        new(keys)
        {
            ["from_user"] = step.From ?? "nf-deploy",
            ["contact_port"] = step.Contact is { } c && keys.TryGetValue(c + "_port", out var p) ? p : ownPort.ToString(CultureInfo.InvariantCulture),
        };

    /// <summary>A command on each host of <c>on</c>; its output must match <c>expect</c> (retried for up to 10 s: what
    /// a cluster replicates arrives shortly after). A host of <c>on</c> that this run did not reach (down: it fails the
    /// run as itself) is named and left out; none reached is a failure.</summary>
    private static async Task<(bool, string)> CommandAsync(CallStep step, IHostTransport transport, CancellationToken ct)
    {
        var done = new List<string>();
        var unreached = new List<string>();
        foreach (var host in step.On)
        {
            var t = transport is SiteTransport site && site.Hosts.TryGetValue(host, out var other) ? other
                : host == transport.HostName ? transport : null;
            if (t is null) { unreached.Add(host); continue; }
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (true)
            {
                var r = await t.RunAsync(step.Command!, ct);
                var matched = r.Ok && (step.Expect is null || Regex.IsMatch(r.Stdout, step.Expect, RegexOptions.Multiline, TimeSpan.FromSeconds(1)));
                if (matched) { done.Add(host); break; }
                if (DateTime.UtcNow >= deadline)
                {
                    var output = (r.Stdout + r.Stderr).Trim();
                    return (false, $"on {host}: " + (r.Ok ? $"output does not match /{step.Expect}/" : $"exit {r.ExitCode}") +
                        ": " + (output.Length <= 400 ? output : "…" + output[^400..]));
                }
                await Task.Delay(500, ct);
            }
        }
        var notChecked = unreached.Count == 0 ? "" : $" (not reached in this run, not checked: {string.Join(", ", unreached)})";
        return done.Count == 0
            ? (false, $"no host of {string.Join(", ", step.On)} is reached in this run")
            : (true, "matched on " + string.Join(", ", done) + notChecked);
    }

    /// <summary>The controller's own address on the way to a node (its address on the lab network, for a lab).</summary>
    public static IPAddress LocalAddressTowards(IPEndPoint node)
    {
        using var s = new Socket(node.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        s.Connect(node);
        return ((IPEndPoint)s.LocalEndPoint!).Address;
    }

    private static int FreePort(IPAddress local, string transport)
    {
        using var s = transport == "tcp" ? new Socket(local.AddressFamily, SocketType.Stream, ProtocolType.Tcp) : new Socket(local.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(local, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }
}
