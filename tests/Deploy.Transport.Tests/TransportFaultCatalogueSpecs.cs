using Xunit;
using System.Net;
using System.Net.Sockets;
using AwesomeAssertions;
using Deploy.Core.Model;
using Deploy.Core.Transport;

namespace Deploy.Transport.Tests;

/// <summary>
/// The catalogue of host and transport faults, against sshd servers on 127.0.0.1 only: one row per way a connection
/// fails, each with the exact error (always naming the host) and proof that the pinned host keys were not changed.
/// </summary>
public sealed class TransportFaultCatalogueSpecs(SshFixture lab) : IClassFixture<SshFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly SshConnectOptions Fast = new()
    {
        ConnectTimeout = TimeSpan.FromSeconds(2),
        MaxConnectAttempts = 3,
        RetryBaseDelay = TimeSpan.FromMilliseconds(20),
        RetryMaxDelay = TimeSpan.FromMilliseconds(200),
        AgentSocket = null, // the runner's own ssh-agent, if any, offers nothing here
    };

    /// <summary>What a row sets up: the connection to try, the exact error, the known_hosts lines beforehand, and what
    /// to stop afterwards.</summary>
    public sealed record Arranged(HostConnection Connection, string Error, string[] KnownHosts, IAsyncDisposable? Owned = null);

    public sealed record Fault(string Story, Func<SshFixture, string, Task<Arranged>> Arrange);

    private static readonly Fault[] Faults =
    [
        new("A_port_nobody_listens_on_is_refused_after_bounded_retries", (lab, kh) =>
        {
            var port = Tool.FreeLoopbackPort();
            return Task.FromResult(new Arranged(new HostConnection("ghost", new SshEndpoint("127.0.0.1", port, "root", lab.Ed25519Key)),
                $"host ghost: unreachable: 127.0.0.1:{port}: connection refused (gave up after 3 attempts)", []));
        }),
        new("An_unreachable_jump_host_is_named_as_the_bastion_the_host_was_not_read_for", (lab, kh) =>
        {
            var port = Tool.FreeLoopbackPort();
            return Task.FromResult(new Arranged(new HostConnection("inner", lab.Endpoint(lab.Server),
                    Jump: new SshEndpoint("127.0.0.1", port, "root", lab.Ed25519Key) { Name = "b1" }),
                "host inner: not read: bastion b1 unreachable", [])); // why, once for all its hosts: BastionUnreachableException.Reason
        }),
        new("A_port_that_accepts_but_never_speaks_ssh_times_out", async (lab, kh) =>
        {
            var mute = new Mute(answer: null);
            return new Arranged(new HostConnection("mute", new SshEndpoint("127.0.0.1", mute.Port, "root", lab.Ed25519Key)),
                $"host mute: unreachable: 127.0.0.1:{mute.Port}: no SSH answer within 2 s (gave up after 3 attempts)", [], mute);
        }),
        new("A_port_that_speaks_another_protocol_is_no_ssh_server", async (lab, kh) =>
        {
            var web = new Mute(answer: "HTTP/1.1 400 Bad Request\r\n\r\n");
            return new Arranged(new HostConnection("web", new SshEndpoint("127.0.0.1", web.Port, "root", lab.Ed25519Key)),
                $"host web: unreachable: 127.0.0.1:{web.Port}: SSH connection failed: The connection to the remote server was closed before a valid SSH identification string was received. (gave up after 3 attempts)", [], web);
        }),
        new("A_key_the_host_does_not_authorize_fails_at_once", (lab, kh) => Task.FromResult(new Arranged(
            new HostConnection("main", lab.Endpoint(lab.Server, lab.UnauthorizedKey)),
            $"host main (127.0.0.1:{lab.Server.Port}): SSH authentication failed for user root with key {lab.UnauthorizedKey}", []))),
        new("A_missing_key_file_is_named", (lab, kh) =>
        {
            var missing = Path.Combine(lab.Dir, "no-such-key");
            return Task.FromResult(new Arranged(new HostConnection("main", lab.Endpoint(lab.Server, missing)),
                $"host main: cannot read SSH key {missing}: Could not find file '{missing}'.", []));
        }),
        new("A_public_key_given_as_the_private_key_is_refused", (lab, kh) => Task.FromResult(new Arranged(
            new HostConnection("main", lab.Endpoint(lab.Server, lab.Ed25519Key + ".pub")),
            $"host main: cannot read SSH key {lab.Ed25519Key}.pub: not a usable private key (Invalid private key file.)", []))),
        new("An_empty_key_file_is_refused", (lab, kh) =>
        {
            var empty = Path.Combine(lab.Dir, "empty-key");
            File.WriteAllText(empty, "");
            return Task.FromResult(new Arranged(new HostConnection("main", lab.Endpoint(lab.Server, empty)),
                $"host main: cannot read SSH key {empty}: not a usable private key (Invalid private key file.)", []));
        }),
        new("A_key_protected_by_a_passphrase_none_was_named_for_is_refused", async (lab, kh) =>
        {
            var locked = Path.Combine(lab.Dir, "id_locked");
            if (!File.Exists(locked))
                await Tool.RunAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "a passphrase", "-f", locked], Ct);
            return new Arranged(new HostConnection("main", lab.Endpoint(lab.Server, locked)),
                $"host main: SSH key {locked} is protected by a passphrase: name where it is with ssh: key_passphrase_env " +
                "(an environment variable) or key_passphrase_file, or add the key to an ssh-agent", []);
        }),
        new("A_key_path_that_is_a_folder_is_refused", (lab, kh) => Task.FromResult(new Arranged(
            new HostConnection("main", lab.Endpoint(lab.Server, lab.Dir)),
            $"host main: cannot read SSH key {lab.Dir}: Access to the path '{lab.Dir}' is denied.", []))),
        new("A_changed_host_key_is_refused_and_the_pinned_one_kept", (lab, kh) =>
        {
            var pinned = new PinnedHostKey("ssh-ed25519", Convert.ToBase64String([0, 0, 0, 11, .. "ssh-ed25519"u8.ToArray(), 0, 0, 0, 32, .. Enumerable.Repeat((byte)7, 32)]));
            var presented = lab.Server.HostPublicKey.Split(' ');
            return Task.FromResult(new Arranged(new HostConnection("main", lab.Endpoint(lab.Server)),
                $"host main (127.0.0.1:{lab.Server.Port}): SSH host key changed: pinned {pinned}, presented {new PinnedHostKey(presented[0], presented[1])}. " +
                $"Refusing to connect. If the host was legitimately rebuilt, remove its line from {kh}.",
                [$"[127.0.0.1]:{lab.Server.Port} {pinned.KeyType} {pinned.KeyBase64}"]));
        }),
    ];

    public static TheoryData<string> Stories => [.. Faults.Select(f => f.Story)];

    [Theory]
    [MemberData(nameof(Stories))]
    public async Task A_connection_fault_gets_one_exact_error_naming_the_host_and_pins_nothing(string story)
    {
        var knownHosts = lab.NewKnownHostsPath();
        var arranged = await Faults.Single(f => f.Story == story).Arrange(lab, knownHosts);
        await using var owned = arranged.Owned;
        if (arranged.KnownHosts.Length > 0)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(knownHosts)!);
            await File.WriteAllLinesAsync(knownHosts, arranged.KnownHosts, Ct);
        }

        var connect = () => new SshHostConnector(knownHosts, Fast).ConnectAsync(arranged.Connection, Ct);

        var message = (await connect.Should().ThrowAsync<DeployException>()).Which.Message;
        message.Should().Be(arranged.Error);
        (File.Exists(knownHosts) ? await File.ReadAllLinesAsync(knownHosts, Ct) : []).Should().Equal(arranged.KnownHosts,
            "a failed connection pins no key and keeps the pinned ones");
    }

    [Fact]
    public async Task A_script_killed_by_a_signal_reports_the_signal_and_the_connection_stays_usable()
    {
        await using var host = await new SshHostConnector(lab.NewKnownHostsPath(), Fast).ConnectAsync(new HostConnection("main", lab.Endpoint(lab.Server)), Ct);

        var result = await host.RunAsync("echo before\nkill -KILL $$\necho after", Ct);

        result.Should().Be(new ExecResult(137, "before\n", "(killed by signal KILL)\n"));
        (await host.RunAsync("echo still here", Ct)).Stdout.Should().Be("still here\n");
    }

    /// <summary>A loopback port that accepts connections and then says nothing (or one line, then closes).</summary>
    private sealed class Mute : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly List<TcpClient> _clients = [];

        public Mute(string? answer)
        {
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            _ = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    var c = await _listener.AcceptTcpClientAsync(_stop.Token);
                    lock (_clients) _clients.Add(c);
                    if (answer is null) continue;
                    await c.GetStream().WriteAsync(System.Text.Encoding.ASCII.GetBytes(answer), _stop.Token);
                    c.Close();
                }
            });
        }

        public int Port { get; }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            lock (_clients) foreach (var c in _clients) c.Dispose();
            _stop.Dispose();
        }
    }
}
