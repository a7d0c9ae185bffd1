using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using AwesomeAssertions;
using Deploy.Core.Model;
using Deploy.Resources.Health;
using Deploy.Transport;

namespace Deploy.Tests;

/// <summary>
/// The <c>diameter</c> health check: a CER/CEA exchange (RFC 6733) from the controller.
/// Byte-exact encoding and parsing, a scripted peer on 127.0.0.1 for framing and timeouts,
/// and Debian's freeDiameterd for the real thing. Nothing is ever sent beyond 127.0.0.1.
/// </summary>
public sealed class DiameterProbeSpecs(FreeDiameterDaemon daemon) : IClassFixture<FreeDiameterDaemon>
{
    private static readonly IPAddress Loopback = IPAddress.Loopback;

    private static byte[] Hex(string s) => Convert.FromHexString(string.Concat(s.Where(char.IsAsciiHexDigit)));
    private static string Ascii(string s) => Convert.ToHexString(Encoding.ASCII.GetBytes(s));

    // ---- pure ----

    [Fact]
    public void The_deployer_introduces_itself_with_a_CER_laid_out_byte_for_byte_as_RFC_6733_says()
    {
        var cer = DiameterProbe.EncodeCer("nf-deploy.invalid", "invalid", IPAddress.Parse("127.0.0.1"), 0x11223344, 0x55667788);

        var expected = Hex(
            // version 1, length 124, flags R, command 257, application 0, hop-by-hop, end-to-end
            "01 00007c  80 000101  00000000  11223344  55667788" +
            // Origin-Host (264), M, length 8+17=25, then 3 pad bytes
            $"00000108 40 000019 {Ascii("nf-deploy.invalid")} 000000" +
            // Origin-Realm (296), M, length 8+7=15, 1 pad byte
            $"00000128 40 00000f {Ascii("invalid")} 00" +
            // Host-IP-Address (257), M, length 8+6=14: family 1 (IPv4), 127.0.0.1, 2 pad bytes
            "00000101 40 00000e 0001 7f000001 0000" +
            // Vendor-Id (266), M, 0
            "0000010a 40 00000c 00000000" +
            // Product-Name (269), no M (RFC 6733 4.5), length 8+9=17, 3 pad bytes
            $"0000010d 00 000011 {Ascii("nf-deploy")} 000000" +
            // Auth-Application-Id (258), M, relay
            "00000102 40 00000c ffffffff");
        Convert.ToHexString(cer).Should().Be(Convert.ToHexString(expected));
        cer.Length.Should().Be(124);
    }

    [Fact]
    public void The_deployer_says_goodbye_with_a_DPR_giving_DO_NOT_WANT_TO_TALK_TO_YOU()
    {
        var dpr = DiameterProbe.EncodeDpr("nf-deploy.invalid", "invalid", DiameterProbe.DoNotWantToTalkToYou, 1, 2);

        var expected = Hex(
            "01 00004c  80 00011a  00000000  00000001  00000002" +
            $"00000108 40 000019 {Ascii("nf-deploy.invalid")} 000000" +
            $"00000128 40 00000f {Ascii("invalid")} 00" +
            "00000111 40 00000c 00000002");
        Convert.ToHexString(dpr).Should().Be(Convert.ToHexString(expected));
    }

    private static byte[] HandMadeCea(uint resultCode) => Hex(
        $"01 000064  00 000101  00000000  11223344  55667788" +
        // a vendor-specific AVP with the same code as Result-Code (3GPP, V and M): not the Result-Code
        "0000010c c0 000010 000028af 0000270f" +
        $"0000010c 40 00000c {resultCode:x8}" +
        $"00000108 40 000011 {Ascii("pgw-1.lab")} 000000" +
        $"00000128 40 00000b {Ascii("lab")} 00" +
        $"0000010d 00 000014 {Ascii("freeDiameter")}");

    [Fact]
    public void A_CEA_is_read_for_its_Result_Code_and_who_sent_it()
    {
        var answer = DiameterProbe.ParseCea(HandMadeCea(3010));

        answer.Should().Be(new DiameterAnswer(3010, "pgw-1.lab", "lab", "freeDiameter"));
    }

    [Fact]
    public async Task A_peer_cannot_make_the_probe_read_past_the_message_or_allocate_without_bound()
    {
        var cea = HandMadeCea(2001);
        var longAvp = (byte[])cea.Clone();
        longAvp[20 + 16 + 12 + 7] = 0xff; // Origin-Host length low byte: now runs past the end
        FluentActions.Invoking(() => DiameterProbe.ParseCea(longAvp)).Should().Throw<InvalidDataException>().WithMessage("*AVP 264*");

        var shortAvp = (byte[])cea.Clone();
        shortAvp[20 + 16 + 12 + 7] = 0x04; // shorter than an AVP header
        FluentActions.Invoking(() => DiameterProbe.ParseCea(shortAvp)).Should().Throw<InvalidDataException>();

        var huge = Hex("01 ffffff 00 000101 00000000 00000000 00000000");
        await FluentActions.Awaiting(() => DiameterProbe.ReadMessageAsync(new MemoryStream(huge), TestContext.Current.CancellationToken))
            .Should().ThrowAsync<InvalidDataException>().WithMessage("*16777215*");

        var notDiameter = Encoding.ASCII.GetBytes("HTTP/1.1 400 Bad Request\r\n\r\n");
        await FluentActions.Awaiting(() => DiameterProbe.ReadMessageAsync(new MemoryStream(notDiameter), TestContext.Current.CancellationToken))
            .Should().ThrowAsync<InvalidDataException>().WithMessage("*version*");

        var noResult = Hex($"01 00001c 00 000101 00000000 00000000 00000000 00000108 40 000008");
        FluentActions.Invoking(() => DiameterProbe.ParseCea(noResult)).Should().Throw<InvalidDataException>().WithMessage("*Result-Code*");
    }

    [Fact]
    public void Success_and_unknown_peer_both_mean_a_live_Diameter_stack_and_anything_else_does_not()
    {
        var ip = IPAddress.Parse("10.0.0.5");
        var two = TimeSpan.FromSeconds(2);

        var ok = DiameterProbe.Verdict(new DiameterAnswer(2001, "pgw-1.lab", "lab", "freeDiameter"), ip, 3868, two);
        ok.Healthy.Should().BeTrue();
        ok.Detail.Should().Contain("DIAMETER_SUCCESS").And.Contain("pgw-1.lab");

        var unknown = DiameterProbe.Verdict(new DiameterAnswer(3010, "pgw-1.lab", "lab", null), ip, 3868, two);
        unknown.Healthy.Should().BeTrue();
        unknown.Detail.Should().Contain("DIAMETER_UNKNOWN_PEER").And.Contain("pgw-1.lab");

        var refused = DiameterProbe.Verdict(new DiameterAnswer(5010, "pgw-1.lab\r\nX-Injected: 1", "lab", null), ip, 3868, two);
        refused.Healthy.Should().BeFalse();
        refused.Detail.Should().StartWith("CEA Result-Code 5010 from pgw-1.lab").And.NotContain("\n");

        DiameterProbe.Verdict(null, ip, 3868, two).Should().Be(new HealthResult(false, "no CEA from 10.0.0.5:3868 within 2 s"));
    }

    // ---- a scripted peer on 127.0.0.1 ----

    [Fact]
    public async Task A_CEA_that_arrives_in_dribs_and_drabs_is_read_whole_and_the_peer_gets_a_DPR()
    {
        var ct = TestContext.Current.CancellationToken;
        using var listener = new TcpListener(Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        byte[]? cerSeen = null, dprSeen = null;

        var peer = Task.Run(async () =>
        {
            using var conn = await listener.AcceptTcpClientAsync(ct);
            conn.NoDelay = true;
            var s = conn.GetStream();
            cerSeen = await DiameterProbe.ReadMessageAsync(s, ct);
            var cer = DiameterProbe.DiameterHeader.Parse(cerSeen);
            var cea = HandMadeCea(2001);
            BinaryPrimitives.WriteUInt32BigEndian(cea.AsSpan(12), cer.HopByHop);
            BinaryPrimitives.WriteUInt32BigEndian(cea.AsSpan(16), cer.EndToEnd);
            foreach (var (from, to) in new[] { (0, 3), (3, 11), (11, 30), (30, 61), (61, cea.Length) })
            {
                await s.WriteAsync(cea.AsMemory(from, to - from), ct);
                await s.FlushAsync(ct);
                await Task.Delay(30, ct);
            }
            dprSeen = await DiameterProbe.ReadMessageAsync(s, ct);
            var dpr = DiameterProbe.DiameterHeader.Parse(dprSeen);
            var dpa = Hex($"01 000020 00 00011a 00000000 {dpr.HopByHop:x8} {dpr.EndToEnd:x8} 0000010c 40 00000c 000007d1");
            await s.WriteAsync(dpa, ct);
        }, ct);

        var answer = await DiameterProbe.CapabilitiesExchangeAsync(Loopback, port, "nf-deploy.invalid", "invalid", TimeSpan.FromSeconds(5), ct);
        await peer;

        answer.Should().Be(new DiameterAnswer(2001, "pgw-1.lab", "lab", "freeDiameter"));
        var cerHeader = DiameterProbe.DiameterHeader.Parse(cerSeen!);
        cerHeader.CommandCode.Should().Be(257);
        cerHeader.IsRequest.Should().BeTrue();
        Convert.ToHexString(cerSeen!).Should().Contain("00000101" + "40" + "00000E" + "0001" + "7F000001", "Host-IP-Address is the local end, 127.0.0.1");
        var dprHeader = DiameterProbe.DiameterHeader.Parse(dprSeen!);
        dprHeader.CommandCode.Should().Be(282);
        Convert.ToHexString(dprSeen!).Should().EndWith("00000111" + "40" + "00000C" + "00000002", "Disconnect-Cause DO_NOT_WANT_TO_TALK_TO_YOU");
    }

    [Fact]
    public async Task A_closed_port_is_no_answer_at_once()
    {
        var ct = TestContext.Current.CancellationToken;
        int port;
        using (var l = new TcpListener(Loopback, 0))
        {
            l.Start();
            port = ((IPEndPoint)l.LocalEndpoint).Port;
        }
        var sw = Stopwatch.StartNew();

        var answer = await DiameterProbe.CapabilitiesExchangeAsync(Loopback, port, "nf-deploy.invalid", "invalid", TimeSpan.FromSeconds(10), ct);

        answer.Should().BeNull();
        sw.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(2), "a refused connection does not wait for the timeout");
    }

    [Fact]
    public async Task A_peer_that_listens_but_never_answers_is_no_answer_once_the_timeout_ends()
    {
        var ct = TestContext.Current.CancellationToken;
        using var listener = new TcpListener(Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var sw = Stopwatch.StartNew();

        var answer = await DiameterProbe.CapabilitiesExchangeAsync(Loopback, port, "nf-deploy.invalid", "invalid", TimeSpan.FromMilliseconds(500), ct);

        answer.Should().BeNull();
        sw.Elapsed.Should().BeGreaterThanOrEqualTo(TimeSpan.FromMilliseconds(450)).And.BeLessThan(TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task A_peer_that_hangs_up_without_a_CEA_is_no_answer()
    {
        var ct = TestContext.Current.CancellationToken;
        using var listener = new TcpListener(Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var peer = Task.Run(async () =>
        {
            using var conn = await listener.AcceptTcpClientAsync(ct);
            await DiameterProbe.ReadMessageAsync(conn.GetStream(), ct);
            await conn.GetStream().WriteAsync(Hex("01 000064 00"), ct); // a third of a header, then gone
        }, ct);

        var answer = await DiameterProbe.CapabilitiesExchangeAsync(Loopback, port, "nf-deploy.invalid", "invalid", TimeSpan.FromSeconds(5), ct);
        await peer;

        answer.Should().BeNull();
    }

    // ---- Debian's freeDiameterd ----

    [Fact]
    public async Task A_freeDiameter_that_does_not_know_the_deployer_answers_DIAMETER_UNKNOWN_PEER_and_counts_as_alive()
    {
        var ct = TestContext.Current.CancellationToken;

        var answer = await DiameterProbe.CapabilitiesExchangeAsync(Loopback, daemon.Port, "stranger.invalid", "invalid", TimeSpan.FromSeconds(5), ct);

        answer.Should().NotBeNull(daemon.Log);
        answer!.ResultCode.Should().Be(DiameterProbe.DiameterUnknownPeer, daemon.Log);
        answer.OriginHost.Should().Be(FreeDiameterDaemon.Identity);
        answer.OriginRealm.Should().Be(FreeDiameterDaemon.Realm);
        answer.ProductName.Should().BeNull("freeDiameter's 3010 is a protocol error answer (E bit, Error-Message) without Product-Name");
        DiameterProbe.Verdict(answer, Loopback, daemon.Port, TimeSpan.FromSeconds(5)).Healthy.Should().BeTrue();
    }

    [Fact]
    public async Task A_freeDiameter_that_whitelists_the_deployer_answers_DIAMETER_SUCCESS_and_is_left_with_a_DPR()
    {
        var ct = TestContext.Current.CancellationToken;

        var answer = await DiameterProbe.CapabilitiesExchangeAsync(Loopback, daemon.Port, FreeDiameterDaemon.Whitelisted, "invalid", TimeSpan.FromSeconds(5), ct);

        answer.Should().NotBeNull(daemon.Log);
        answer!.ResultCode.Should().Be(DiameterProbe.DiameterSuccess, daemon.Log);
        answer.OriginHost.Should().Be(FreeDiameterDaemon.Identity);
        answer.ProductName.Should().Be("freeDiameter");
        (await daemon.WaitForLogAsync($"Peer '{FreeDiameterDaemon.Whitelisted}' sent a DPR with cause: DO_NOT_WANT_TO_TALK_TO_YOU", ct))
            .Should().BeTrue($"the probe says goodbye once it is let in:\n{daemon.Log}");
    }

    [Fact]
    public async Task The_diameter_health_check_passes_against_freeDiameter_and_names_it()
    {
        var ct = TestContext.Current.CancellationToken;
        HealthChecker.Kinds.Should().Contain("diameter");
        var check = new HealthCheckSpec("localhost", "hss", "diameter",
            ImmutableSortedDictionary<string, string>.Empty.Add("address", "127.0.0.1").Add("port", daemon.Port.ToString()));

        var result = await new HealthChecker().CheckAsync(check, new LocalShell(), TimeSpan.FromSeconds(5), ct);

        result.Healthy.Should().BeTrue(result.Detail);
        result.Detail.Should().Contain("DIAMETER_SUCCESS").And.Contain(FreeDiameterDaemon.Identity, "the default origin host nf-deploy.invalid is whitelisted here");
    }
}

/// <summary>
/// freeDiameterd on a random TCP port, no SCTP, no TLS port, with a throwaway certificate (it will not start without one)
/// and the acl_wl extension letting in <see cref="Whitelisted"/> without TLS (ALLOW_IPSEC: "protected otherwise").
/// It listens on all addresses (1.2.1 has no way to pin it to 127.0.0.1 over TCP); the tests only talk to 127.0.0.1.
/// </summary>
public sealed class FreeDiameterDaemon : IAsyncLifetime
{
    public const string Identity = "fd-test.localdomain";
    public const string Realm = "localdomain";
    public const string Whitelisted = "nf-deploy.invalid";
    private const string Binary = "/usr/bin/freeDiameterd";
    private const string AclWl = "/usr/lib/freeDiameter/acl_wl.fdx";

    private readonly string _dir = Directory.CreateTempSubdirectory("nfd-diameter-").FullName;
    private readonly StringBuilder _log = new();
    private Process? _process;

    public int Port { get; private set; }

    public string Log
    {
        get { lock (_log) return _log.ToString(); }
    }

    /// <summary>Whether the daemon logs a line containing <paramref name="text"/> within 5 s.</summary>
    public async Task<bool> WaitForLogAsync(string text, CancellationToken ct)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(5); DateTime.UtcNow < deadline; await Task.Delay(50, ct))
            if (Log.Contains(text, StringComparison.Ordinal)) return true;
        return Log.Contains(text, StringComparison.Ordinal);
    }

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(Binary) || !File.Exists(AclWl))
            throw new InvalidOperationException($"{Binary} or {AclWl} missing: apt-get install freediameterd freediameter-extensions");

        using (var rsa = RSA.Create(2048))
        {
            var req = new CertificateRequest($"CN={Identity}", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName(Identity);
            req.CertificateExtensions.Add(san.Build());
            req.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            using var cert = req.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
            await File.WriteAllTextAsync(Path.Combine(_dir, "cert.pem"), cert.ExportCertificatePem());
            await File.WriteAllTextAsync(Path.Combine(_dir, "key.pem"), rsa.ExportPkcs8PrivateKeyPem());
        }
        await File.WriteAllTextAsync(Path.Combine(_dir, "acl_wl.conf"), $"ALLOW_IPSEC {Whitelisted}\n");

        Port = FreePort();
        var conf = Path.Combine(_dir, "freeDiameter.conf");
        await File.WriteAllTextAsync(conf, $"""
            Identity = "{Identity}";
            Realm = "{Realm}";
            Port = {Port};
            SecPort = 0;
            No_SCTP;
            No_IPv6;
            TLS_Cred = "{_dir}/cert.pem", "{_dir}/key.pem";
            TLS_CA = "{_dir}/cert.pem";
            LoadExtension = "{AclWl}" : "{_dir}/acl_wl.conf";

            """);

        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var psi = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _dir };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(conf);
        _process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        DataReceivedEventHandler collect = (_, e) =>
        {
            if (e.Data is null) return;
            lock (_log) _log.AppendLine(e.Data);
            if (e.Data.Contains("freeDiameterd daemon initialized.", StringComparison.Ordinal)) ready.TrySetResult();
        };
        _process.OutputDataReceived += collect;
        _process.ErrorDataReceived += collect;
        _process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException($"freeDiameterd exited:\n{Log}"));
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        try
        {
            await ready.Task.WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken);
        }
        catch (TimeoutException)
        {
            throw new InvalidOperationException($"freeDiameterd not initialized within 20 s:\n{Log}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            try
            {
                if (!_process.HasExited) _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException) { }
            _process.Dispose();
        }
        Directory.Delete(_dir, true);
    }

    private static int FreePort()
    {
        // freeDiameterd binds 0.0.0.0, so the port must be free on every address
        using var l = new TcpListener(IPAddress.Any, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
