using System.Net;
using System.Net.Sockets;
using AwesomeAssertions;
using Deploy.Resources.Health;

namespace Deploy.Tests;

/// <summary>The GTPv2-C Echo codec (TS 29.274 §5.5.1 header without TEID, §7.1 Echo Request/Response, §8.5 Recovery)
/// and the probe against a UDP answerer on loopback. The lab spec EpcRealOpen5gsSpecs sends it to a real open5gs-smfd.</summary>
public sealed class Gtpv2EchoSpecs
{
    [Fact]
    public void An_echo_request_is_a_version_2_header_without_teid_and_a_recovery_ie()
    {
        Gtpv2Echo.Request(0x0A0B0C, recovery: 7).Should().Equal(
            0x40, 0x01, 0x00, 0x09, // v2, P=0 T=0; type 1; length 9 (everything after octet 4)
            0x0A, 0x0B, 0x0C, 0x00, // sequence number, spare
            0x03, 0x00, 0x01, 0x00, 0x07); // Recovery IE: type 3, length 1, instance 0, restart counter 7
    }

    [Fact]
    public void An_echo_response_gives_its_sequence_number_and_the_peers_recovery()
    {
        byte[] response = [0x40, 0x02, 0x00, 0x09, 0x00, 0x12, 0x34, 0x00, 0x03, 0x00, 0x01, 0x00, 0x05];
        Gtpv2Echo.DecodeResponse(response).Should().Be(new Gtpv2EchoResponse(0x1234, 5));
    }

    [Theory]
    [InlineData(new byte[] { 0x40, 0x01, 0x00, 0x09, 0, 0, 1, 0, 3, 0, 1, 0, 0 }, "message type 1, not Echo Response (2)")]
    [InlineData(new byte[] { 0x20, 0x02, 0x00, 0x04, 0, 0, 1, 0 }, "GTP version 1, not 2")]
    [InlineData(new byte[] { 0x48, 0x02, 0x00, 0x04, 0, 0, 1, 0 }, "the T flag is set")]
    [InlineData(new byte[] { 0x40, 0x02, 0x00, 0x20, 0, 0, 1, 0 }, "length field 32 exceeds the 4 bytes received")]
    [InlineData(new byte[] { 0x40, 0x02, 0x00, 0x09, 0, 0, 1, 0, 3, 0, 9, 0, 0 }, "information element 3 of length 9 is truncated")]
    [InlineData(new byte[] { 0x40, 0x02 }, "2 bytes, shorter than a GTPv2-C header")]
    public void Anything_else_is_refused_with_what_is_wrong(byte[] message, string error)
    {
        var act = () => Gtpv2Echo.DecodeResponse(message);
        act.Should().Throw<InvalidDataException>().WithMessage($"*{error}*");
    }

    [Fact]
    public async Task The_probe_passes_on_the_response_with_its_own_sequence_number_and_ignores_stale_ones()
    {
        using var server = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)server.Client.LocalEndPoint!).Port;
        var answering = Task.Run(async () =>
        {
            var req = await server.ReceiveAsync(TestContext.Current.CancellationToken);
            byte[] stale = [0x40, 0x02, 0x00, 0x09, 0, 0, 0, 0, 3, 0, 1, 0, 9];
            await server.SendAsync(stale, req.RemoteEndPoint, TestContext.Current.CancellationToken);
            byte[] ok = [0x40, 0x02, 0x00, 0x09, req.Buffer[4], req.Buffer[5], req.Buffer[6], 0, 3, 0, 1, 0, 4];
            await server.SendAsync(ok, req.RemoteEndPoint, TestContext.Current.CancellationToken);
        }, TestContext.Current.CancellationToken);
        var result = await Gtpv2EchoProbe.ProbeAsync(IPAddress.Loopback, port, TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        await answering;
        result.Healthy.Should().BeTrue(result.Detail);
        result.Detail.Should().Contain("recovery 4");
    }

    [Fact]
    public async Task The_probe_fails_when_nothing_answers()
    {
        using var silent = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0)); // bound, never answers
        var port = ((IPEndPoint)silent.Client.LocalEndPoint!).Port;
        var result = await Gtpv2EchoProbe.ProbeAsync(IPAddress.Loopback, port, TimeSpan.FromSeconds(1), TestContext.Current.CancellationToken);
        result.Healthy.Should().BeFalse();
        result.Detail.Should().Contain($"no GTPv2-C Echo Response from 127.0.0.1:{port} within 1 s");
    }
}
