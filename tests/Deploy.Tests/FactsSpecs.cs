using AwesomeAssertions;
using Deploy.Core.Probes;
using Deploy.Core.Engine;
using Deploy.Core.Model;

namespace Deploy.Tests;

/// <summary>Facts and probes come back from one script; their parsing is pure.</summary>
public sealed class FactsSpecs
{
    private const string MultiHomed = """
        ##nfd:facts
        hostname=sip-a
        codename=bookworm
        arch=amd64
        init=systemd
        addr=lo inet 127.0.0.1
        addr=lo inet6 ::1
        addr=ens3 inet 10.20.0.21
        addr=ens4 inet 192.0.2.21
        addr=ens4 inet6 2001:db8::21
        route4=default via 10.20.0.1 dev ens3 proto static
        pkg=ii |kamailio|5.6.3-2
        pkg=ii |libc6:amd64|2.36-9
        pkg=rc |kamailio-tls-modules|5.6.3-2
        ##nfd:r nfdeploy:fs:File::sip-a:/etc/kamailio/kamailio.cfg
        exists=1
        sha256=abc
        ##nfd:end
        """;

    [Fact]
    public void The_default_ipv4_is_the_address_of_the_default_route_interface()
    {
        var read = HostReader.Parse("sip-a", MultiHomed);
        read.Facts.DefaultInterface.Should().Be("ens3");
        read.Facts.DefaultIPv4.Should().Be("10.20.0.21");
        read.Facts.Interface("ens4")!.IPv4.Should().Equal("192.0.2.21");
        read.Facts.Interface("ens4")!.IPv6.Should().Equal("2001:db8::21");
        read.Facts.InitSystem.Should().Be("systemd");
        read.Facts.Packages.Should().Contain("kamailio", "5.6.3-2").And.ContainKey("libc6").And.NotContainKey("kamailio-tls-modules");
    }

    [Fact]
    public void A_tunnel_device_such_as_the_upfs_ogstun_is_known_as_one_and_is_never_the_default()
    {
        var read = HostReader.Parse("pgw-1", "##nfd:facts\nhostname=pgw-1\naddr=lo inet 127.0.0.1\naddr=ogstun inet 10.45.0.1\naddr=eth0 inet 10.212.0.41\n" +
            "tunnel=ogstun\nroute4=default dev eth0\n##nfd:end\n");
        read.Facts.Interface("ogstun")!.Tunnel.Should().BeTrue();
        read.Facts.Interface("eth0")!.Tunnel.Should().BeFalse();
        read.Facts.DefaultIPv4.Should().Be("10.212.0.41");
    }

    [Fact]
    public void Each_probe_gets_only_its_own_section()
    {
        var read = HostReader.Parse("sip-a", MultiHomed);
        read.Probes.Should().ContainSingle();
        read.Probes["nfdeploy:fs:File::sip-a:/etc/kamailio/kamailio.cfg"].Should().Contain("sha256", "abc");
    }

    [Fact]
    public void A_host_without_a_default_route_uses_its_first_non_loopback_address()
    {
        var read = HostReader.Parse("k1", "##nfd:facts\nhostname=k1\naddr=lo inet 127.0.0.1\naddr=eth0 inet 10.211.0.11\nroute4=\n##nfd:end\n");
        read.Facts.DefaultInterface.Should().Be("eth0");
        read.Facts.DefaultIPv4.Should().Be("10.211.0.11");
        read.Facts.InitSystem.Should().Be("sysv");
    }

    [Fact]
    public void Output_cut_short_is_an_error_not_an_empty_host()
    {
        var act = () => HostReader.Parse("k1", "##nfd:facts\nhostname=k1\n");
        act.Should().Throw<DeployException>().WithMessage("host k1: the read script did not complete*");
    }

    [Fact]
    public void The_read_script_frames_every_probe_and_reads_facts_once()
    {
        var script = HostReader.BuildScript([("a", "echo x=1"), ("b", "echo y=2")]);
        script.Split("##nfd:facts").Should().HaveCount(2);
        script.Should().Contain("echo '##nfd:r a'").And.Contain("echo '##nfd:r b'").And.EndWith("echo '##nfd:end'\n");
    }
}
