using Xunit;
using AwesomeAssertions;
using Deploy.Core.Model;
using Deploy.Core.Transport;
using Deploy.Transport.Persist;

namespace Deploy.Transport.Tests;

/// <summary>
/// NF_DEPLOY_SSH_PERSIST on real sshd: the broker keeps a host's connection for the next run, only its own user can use
/// it, it goes away when idle, and a host whose key changed is refused through it as it is without it.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class PersistBrokerTests(SshFixture lab) : IClassFixture<SshFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string Nobody = "65534";

    private static SshConnectOptions Fast => new()
    {
        ConnectTimeout = TimeSpan.FromSeconds(5),
        MaxConnectAttempts = 2,
        RetryBaseDelay = TimeSpan.FromMilliseconds(20),
        RetryMaxDelay = TimeSpan.FromMilliseconds(100),
        MaxResumeAttempts = 1,
    };

    private static readonly string[] Scripts =
    [
        "echo out; echo err >&2; exit 3",
        "head -c 300000 /dev/zero | tr '\\0' x; echo",
        "printf 'caf\\303\\251 \\342\\202\\254\\n'",
    ];

    private sealed record Running(PersistBroker Broker, Task<bool> Serving, string Socket, CancellationTokenSource Stop) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Stop.CancelAsync();
            await Serving;
            Stop.Dispose();
        }
    }

    private Running StartBroker(string dir, TimeSpan idle)
    {
        PersistSocket.EnsurePrivateDirectory(dir).Should().BeNull();
        var socket = Path.Combine(dir, "ssh.sock");
        var broker = new PersistBroker(file => new SshHostConnector(file, Fast), socket, idle);
        var stop = new CancellationTokenSource();
        var serving = Task.Run(() => broker.RunAsync(stop.Token));
        return new Running(broker, serving, socket, stop);
    }

    private static PersistConnector Client(Running broker, string knownHosts, Action? started = null) =>
        new(broker.Socket, knownHosts, _ =>
        {
            started?.Invoke();
            return Task.CompletedTask;
        });

    private string NewDir() => Path.Combine(lab.Dir, "persist-" + Guid.NewGuid().ToString("N")[..8]);

    private static async Task<ExecResult[]> RunAllAsync(IHostConnector connector, HostConnection host)
    {
        await using var transport = await connector.ConnectAsync(host, Ct);
        return await Task.WhenAll(Scripts.Select(s => transport.RunAsync(s, Ct)));
    }

    private static int Logins(Sshd server) => server.Log.Split('\n').Count(l => l.Contains("Accepted publickey for root", StringComparison.Ordinal));

    [Fact]
    public async Task A_second_run_reuses_the_connection_the_first_opened_and_gets_what_a_direct_connection_gets()
    {
        await using var server = await lab.StartServerAsync("persist-reuse", Ct);
        var knownHosts = lab.NewKnownHostsPath();
        var host = new HostConnection("sip-1", lab.Endpoint(server));
        var direct = await RunAllAsync(new SshHostConnector(knownHosts, Fast), host);
        await using var broker = StartBroker(NewDir(), TimeSpan.FromMinutes(5));

        var first = Client(broker, knownHosts);
        var firstResults = await RunAllAsync(first, host);
        var second = Client(broker, knownHosts);
        var secondResults = await RunAllAsync(second, host);

        direct[0].Should().Be(new ExecResult(3, "out\n", "err\n"));
        firstResults.Should().Equal(direct);
        secondResults.Should().Equal(direct);
        (first.Reused, second.Reused).Should().Be((0, 1));
        broker.Broker.Opened.Should().Be(1);
        Logins(server).Should().Be(2, "one login for the direct run and one for both runs through the broker");
    }

    [Fact]
    public async Task The_broker_listens_in_a_folder_only_its_user_can_enter_and_refuses_folders_others_could_use()
    {
        var dir = NewDir();
        await using var broker = StartBroker(dir, TimeSpan.FromMinutes(5));
        await WaitForAsync(() => File.Exists(broker.Socket));

        new DirectoryInfo(dir).UnixFileMode.Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.GetUnixFileMode(broker.Socket).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var open = NewDir();
        Directory.CreateDirectory(open);
        File.SetUnixFileMode(open, (UnixFileMode)Convert.ToInt32("755", 8));
        PersistSocket.EnsurePrivateDirectory(open).Should().Contain("may be entered by other users (mode 0755, not 0700)");
        var others = NewDir();
        Directory.CreateDirectory(others, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        await Tool.RunAsync("chown", [Nobody, others], Ct);
        PersistSocket.EnsurePrivateDirectory(others).Should().EndWith("belongs to another user");
        var link = NewDir();
        File.CreateSymbolicLink(link, dir);
        PersistSocket.EnsurePrivateDirectory(link).Should().EndWith("is a symbolic link");
    }

    [Fact]
    public async Task Another_users_process_gets_nothing_from_the_broker_even_when_the_socket_is_left_open_to_it()
    {
        await using var server = await lab.StartServerAsync("persist-peer", Ct);
        var dir = NewDir();
        await using var broker = StartBroker(dir, TimeSpan.FromMinutes(5));
        await WaitForAsync(() => File.Exists(broker.Socket));
        File.SetUnixFileMode(dir, (UnixFileMode)Convert.ToInt32("711", 8));
        File.SetUnixFileMode(broker.Socket, (UnixFileMode)Convert.ToInt32("666", 8));
        var (exit, stdout, stderr) = await NobodyAsksAsync(broker.Socket, new PersistRequest(1, "connect",
            new HostConnection("sip-1", lab.Endpoint(server)), lab.NewKnownHostsPath()));

        (exit, stdout.Trim()).Should().Be((0, "closed"), stderr);
        broker.Broker.Opened.Should().Be(0, "no connection was opened for another user");
        Logins(server).Should().Be(0);
    }

    [Fact]
    public async Task Another_users_process_gets_no_kept_key_from_the_broker_even_when_the_socket_is_left_open_to_it()
    {
        var dir = NewDir();
        await using var broker = StartBroker(dir, TimeSpan.FromMinutes(5));
        await WaitForAsync(() => File.Exists(broker.Socket));
        var keys = new PersistKeyCache(broker.Socket);
        await keys.PutAsync("stack-lab", new byte[32], Ct);
        await keys.Kept;
        File.SetUnixFileMode(dir, (UnixFileMode)Convert.ToInt32("711", 8));
        File.SetUnixFileMode(broker.Socket, (UnixFileMode)Convert.ToInt32("666", 8));
        var (exit, stdout, stderr) = await NobodyAsksAsync(broker.Socket, new PersistRequest(1, "key-get", KeyId: "stack-lab"));

        (exit, stdout.Trim()).Should().Be((0, "closed"), stderr);
        (await keys.GetAsync("stack-lab", Ct)).Should().HaveCount(32, "its own user still gets it");
    }

    [Fact]
    public async Task A_client_sends_nothing_to_a_socket_served_by_another_user()
    {
        await using var server = await lab.StartServerAsync("persist-impostor", Ct);
        var dir = NewDir();
        Directory.CreateDirectory(dir);
        File.SetUnixFileMode(dir, (UnixFileMode)Convert.ToInt32("777", 8));
        var socket = Path.Combine(dir, "ssh.sock");
        var received = Path.Combine(dir, "received");
        var impostor = AsNobodyAsync($$"""
            use IO::Socket::UNIX;
            my $l = IO::Socket::UNIX->new(Local => '{{socket}}', Listen => 1) or die "listen: $!";
            my $c = $l->accept;
            open(my $f, '>', '{{received}}');
            while (sysread($c, my $buf, 4096)) { print $f $buf; }
            close $f;
            """);
        await WaitForAsync(() => File.Exists(socket));
        var client = new PersistConnector(socket, lab.NewKnownHostsPath(), _ => Task.CompletedTask);

        // bounded: a client that sent its request would wait for an answer that never comes
        var connect = () => client.ConnectAsync(new HostConnection("sip-1", lab.Endpoint(server)), Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);

        (await connect.Should().ThrowAsync<DeployException>()).Which.Message.Should().Be(
            $"{socket} is served by another user's process: not sending it any script");
        await impostor.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        new FileInfo(received).Length.Should().Be(0, "not a byte of a request reached it");
    }

    [Fact]
    public async Task The_broker_closes_its_connections_and_its_socket_after_the_idle_time_and_the_next_run_starts_a_new_one()
    {
        await using var server = await lab.StartServerAsync("persist-idle", Ct);
        var knownHosts = lab.NewKnownHostsPath();
        var host = new HostConnection("sip-1", lab.Endpoint(server));
        var broker = StartBroker(NewDir(), TimeSpan.FromSeconds(1));
        await RunAllAsync(Client(broker, knownHosts), host);

        (await broker.Serving.WaitAsync(TimeSpan.FromSeconds(60), Ct)).Should().BeTrue("the broker ended by itself once idle");
        File.Exists(broker.Socket).Should().BeFalse();
        await WaitForAsync(() => server.Log.Contains("Disconnected from user root", StringComparison.Ordinal)
            || server.Log.Contains("Received disconnect", StringComparison.Ordinal));

        var starts = 0;
        await using var next = StartBroker(Path.GetDirectoryName(broker.Socket)!, TimeSpan.FromMinutes(5));
        var client = Client(next, knownHosts, () => starts++);
        await RunAllAsync(client, host);
        (client.Reused, next.Broker.Opened).Should().Be((0, 1), "the idle broker's connection is gone: a new one is opened");
        broker.Stop.Dispose();
    }

    [Fact]
    public async Task A_host_whose_key_changed_is_refused_through_the_broker_as_it_is_directly()
    {
        await using var server = await lab.StartServerAsync("persist-rekey", Ct);
        var knownHosts = lab.NewKnownHostsPath();
        var host = new HostConnection("sip-1", lab.Endpoint(server));
        await using var broker = StartBroker(NewDir(), TimeSpan.FromMinutes(5));
        await RunAllAsync(Client(broker, knownHosts), host);

        await server.RestartAsync(newHostKey: true, Ct);
        var throughBroker = () => RunAllAsync(Client(broker, knownHosts), host);
        var directly = () => RunAllAsync(new SshHostConnector(knownHosts, Fast), host);

        var refused = (await throughBroker.Should().ThrowAsync<HostKeyMismatchException>()).Which;
        var again = (await throughBroker.Should().ThrowAsync<HostKeyMismatchException>()).Which;
        var expected = (await directly.Should().ThrowAsync<HostKeyMismatchException>()).Which;
        refused.Host.Should().Be("sip-1");
        refused.Message.Should().Be(expected.Message);
        again.Message.Should().Be(expected.Message, "the failed connection is not lent again: a new one is refused too");
    }

    /// <summary>A process of user nobody sends one request to the socket and prints whether anything came back.</summary>
    private static Task<(int Exit, string Stdout, string Stderr)> NobodyAsksAsync(string socket, PersistRequest request)
    {
        var body = System.Text.Json.JsonSerializer.Serialize(request);
        return AsNobodyAsync($$"""
            use IO::Socket::UNIX;
            my $s = IO::Socket::UNIX->new(Peer => '{{socket}}') or die "connect: $!";
            my $body = '{{body.Replace("'", "\\'", StringComparison.Ordinal)}}';
            print $s pack('N', length $body) . $body;
            my $n = sysread($s, my $got, 4);
            print defined $n && $n > 0 ? "answered\n" : "closed\n";
            """);
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> AsNobodyAsync(string perl) =>
        await Tool.TryRunAsync("setpriv", ["--reuid", Nobody, "--regid", Nobody, "--clear-groups", "perl", "-e", perl], Ct);

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (var i = 0; i < 300 && !condition(); i++) await Task.Delay(100, Ct);
        condition().Should().BeTrue("the condition came true within 30 s");
    }
}
