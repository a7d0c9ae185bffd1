using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Deploy.Core.Model;
using Deploy.Core.Transport;

namespace Deploy.Tests;

/// <summary>What a fake host recognised a script as.</summary>
public enum ScriptKind { Read, Write, Service, Rollback, ContentFetch, Health, Keep, Restore, Delete }

/// <summary>One script a fake host was sent, on which connection (each run connects anew), and what it was.</summary>
/// <param name="Target">The file's path, the service's name, or the host for reads.</param>
public sealed record SentScript(int Connection, ScriptKind Kind, string Target, string Text)
{
    /// <summary>A service script's action: restart, start, stop or "" (boot settings only).</summary>
    public string? Action => Kind == ScriptKind.Service ? Regex.Match(Text, "; action=([a-z]*);").Groups[1].Value : null;
}

public sealed record FakeFile(string Content, string Owner, string Group, string Mode)
{
    public string Sha256 => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Content)));
}

public sealed record FakeService(int Pid, bool Active, bool Enabled);

/// <summary>
/// An in-memory Debian host (sysv init) that answers the scripts the real providers send: the read round trip (facts,
/// file and service probes in their <c>##nfd:</c> frames), file writes (base64 content, owner, mode, this run's
/// backup), service starts and restarts (a new pid), rollbacks, the preview's content fetch, and a <c>command</c>
/// health check <c>nfd-fake-health</c> answered by <see cref="Healthy"/>. It does not run a shell: a script it does
/// not recognise fails the test loudly (a provider changed its script; teach the fake), rather than being answered wrong.
/// Faults: <see cref="Unreachable"/>, <see cref="Starts"/>, <see cref="LoseConnectionAfter"/>, <see cref="CancelAfter"/>.
/// </summary>
public sealed partial class FakeHost(string name, string address)
{
    public const string HealthCommand = "nfd-fake-health";

    private readonly Lock _gate = new();
    private readonly Dictionary<string, FakeFile> _files = new(StringComparer.Ordinal);
    private readonly Dictionary<string, FakeService> _services = new(StringComparer.Ordinal);
    private readonly List<SentScript> _sent = [];
    private readonly List<(Func<SentScript, bool> When, Action Fire, bool Throws)> _trips = [];
    private int _nextPid = 100;
    private int _connection;
    private bool _lost; // the current connection broke: every later script on it fails, as on a dead SSH session

    public string Name { get; } = name;
    public string Address { get; } = address;

    /// <summary>Connecting fails with <see cref="HostUnreachableException"/>, as the SSH connector does after its retries.</summary>
    public bool Unreachable { get; set; }

    /// <summary>Connecting fails because this bastion is down, as the SSH connector says for every host behind it.</summary>
    public string? BehindDownBastion { get; set; }

    /// <summary>What the health check sees (e.g. healthy unless the config is the bad one).</summary>
    public Func<FakeHost, bool> Healthy { get; set; } = _ => true;

    /// <summary>Whether a service starts on what the host has now (e.g. not on a config it cannot parse).</summary>
    public Func<FakeHost, string, bool> Starts { get; set; } = (_, _) => true;

    public ImmutableArray<SentScript> Sent { get { lock (_gate) return [.. _sent]; } }

    /// <summary>How many connections were opened to the host (a run that does not target it opens none).</summary>
    public int Connections { get { lock (_gate) return _connection; } }

    public FakeFile? File(string path) { lock (_gate) return _files.GetValueOrDefault(path); }

    public FakeService? Service(string name) { lock (_gate) return _services.GetValueOrDefault(name); }

    public ImmutableArray<string> Paths { get { lock (_gate) return [.. _files.Keys.Order(StringComparer.Ordinal)]; } }

    public FakeHost WithFile(string path, string content, string owner = "root", string group = "root", string mode = "0644")
    {
        lock (_gate) _files[path] = new FakeFile(content, owner, group, mode);
        return this;
    }

    public FakeHost WithService(string name, bool running = true)
    {
        lock (_gate) _services[name] = new FakeService(running ? _nextPid++ : 0, running, true);
        return this;
    }

    /// <summary>The first script matching <paramref name="when"/> takes effect on the host, then the connection breaks
    /// before its answer comes back: the engine sees <see cref="HostUnreachableException"/>, as when the SSH
    /// transport's resume attempts are used up.</summary>
    public void LoseConnectionAfter(Func<SentScript, bool> when)
    {
        lock (_gate) _trips.Add((when, () => _lost = true, true));
    }

    /// <summary>The first script matching <paramref name="when"/> takes effect and answers, and the run is cancelled
    /// right then (Ctrl-C): the next script the engine sends sees the cancelled token.</summary>
    public void CancelAfter(Func<SentScript, bool> when, CancellationTokenSource run)
    {
        lock (_gate) _trips.Add((when, run.Cancel, false));
    }

    internal IHostTransport Connect()
    {
        if (Unreachable) throw new HostUnreachableException(Name, "connection refused (fake host)");
        if (BehindDownBastion is { } bastion) throw new BastionUnreachableException(Name, bastion, "connection refused (fake bastion)");
        lock (_gate)
        {
            _lost = false;
            return new FakeTransport(this, ++_connection);
        }
    }

    internal ExecResult Run(int connection, string script, CancellationToken ct)
    {
        // the real transport throws OperationCanceledException for a cancelled run, and sends nothing more
        ct.ThrowIfCancellationRequested();
        Action? fire;
        bool throws;
        ExecResult result;
        lock (_gate)
        {
            if (_lost) throw new HostUnreachableException(Name, "connection lost (fake host)");
            var (kind, target, answer) = Answer(script);
            var sent = new SentScript(connection, kind, target, script);
            _sent.Add(sent);
            result = answer;
            var trip = _trips.FindIndex(t => t.When(sent));
            (fire, throws) = trip < 0 ? (null, false) : (_trips[trip].Fire, _trips[trip].Throws);
            if (trip >= 0) _trips.RemoveAt(trip);
            if (fire is not null && throws) fire();
        }
        if (throws) throw new HostUnreachableException(Name, "connection lost (fake host)");
        fire?.Invoke(); // outside the lock: cancellation callbacks run synchronously
        return result;
    }

    private sealed class FakeTransport(FakeHost host, int connection) : IHostTransport
    {
        public string HostName => host.Name;

        public async Task<ExecResult> RunAsync(string script, CancellationToken ct)
        {
            await Task.Yield(); // a real round trip never completes synchronously
            return host.Run(connection, script, ct);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

/// <summary>The engine's connector for fake hosts (the real one opens SSH connections).</summary>
public sealed class FakeConnector(IEnumerable<FakeHost> hosts) : IHostConnector
{
    private readonly Dictionary<string, FakeHost> _hosts = hosts.ToDictionary(h => h.Name);

    public Task<IHostTransport> ConnectAsync(HostConnection connection, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        return Task.FromResult(_hosts[connection.HostName].Connect());
    }
}
