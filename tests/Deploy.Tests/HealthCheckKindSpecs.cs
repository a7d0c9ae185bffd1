using System.Collections.Immutable;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AwesomeAssertions;
using Deploy.Core.Model;
using Deploy.Core.Transport;
using Deploy.Resources.Health;
using Deploy.Site.Compile;
using Deploy.Site.Model;
using Deploy.Transport;

namespace Deploy.Tests;

/// <summary>
/// Health check kinds and lints are open sets: a kind is one class and one registration, read and checked when the site
/// is compiled (errors with file:line) and run by the health checker through the same registry.
/// </summary>
public sealed class HealthCheckKindSpecs : IDisposable
{
    private readonly string _project = Directory.CreateTempSubdirectory("nfd-kinds-").FullName;

    public void Dispose() => Directory.Delete(_project, true);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A kind of a test's own, as an NF pack would add one: its arguments checked at compile time, and its run.</summary>
    private sealed class EchoCheck : HealthCheckKind
    {
        public override string Name => "echo";

        public override ImmutableSortedDictionary<string, DeclaredScalar> ReadArguments(DeclaredMap args, DeclaredArgReader reader)
        {
            reader.AllowOnly(args, "an echo check", "text");
            if (args.Get("text") is null) throw reader.Error(args, "an echo check needs 'text'");
            return base.ReadArguments(args, reader);
        }

        public override Task<HealthResult> RunOnceAsync(HealthCheckSpec check, IHostTransport transport, CancellationToken ct) =>
            Task.FromResult(new HealthResult(check.Args["text"] != "down", "echo " + check.Args["text"]));
    }

    private static readonly HealthCheckKinds WithEcho = HealthCheckKinds.BuiltIn.With(new EchoCheck());

    private NfManifest Manifest(string health, HealthCheckKinds kinds)
    {
        Directory.CreateDirectory(Path.Combine(_project, "nf", "probe"));
        File.WriteAllText(Path.Combine(_project, "nf", "probe", "nf.yaml"), "description: a probe of its own\nhealth:\n" + health);
        return NfManifest.Load(_project, "probe", "roles/probe.yaml", 1, kinds);
    }

    private string ErrorOf(string health, HealthCheckKinds kinds)
    {
        var act = () => Manifest(health, kinds);
        return act.Should().Throw<SiteException>().Which.Message;
    }

    [Fact]
    public async Task I_can_add_a_health_check_kind_in_one_class_and_have_it_read_checked_and_run_through_the_registry()
    {
        var manifest = Manifest("  - echo: { text: \"{{ nf.listen_ip }}\" }\n    when: \"{{ true }}\"\n", WithEcho);

        var health = manifest.Health.Should().ContainSingle().Which;
        health.Kind.Should().Be("echo");
        health.Args.Should().ContainSingle().Which.Should().Be(KeyValuePair.Create("text", new Templated("{{ nf.listen_ip }}", 3)));
        health.When.Should().Be(new Templated("{{ true }}", 4));
        ErrorOf("  - echo: { txt: hello }\n", WithEcho)
            .Should().Be("nf/probe/nf.yaml:3: unknown key 'txt' in an echo check (expected one of: text)");
        ErrorOf("  - echo: {}\n", WithEcho).Should().Be("nf/probe/nf.yaml:3: an echo check needs 'text'");

        var checker = new HealthChecker(WithEcho);
        var up = new HealthCheckSpec("localhost", "probe", "echo", ImmutableSortedDictionary<string, string>.Empty.Add("text", "up"));
        (await checker.CheckAsync(up, new LocalShell(), TimeSpan.Zero, Ct)).Should().Be(new HealthResult(true, "echo up"));
        var down = up with { Args = up.Args.SetItem("text", "down") };
        (await checker.CheckAsync(down, new LocalShell(), TimeSpan.Zero, Ct)).Should().Be(new HealthResult(false, "echo down"));
    }

    [Fact]
    public async Task A_health_check_of_a_kind_the_registry_lacks_is_refused_with_the_kinds_it_has()
    {
        HealthCheckKinds.BuiltIn.UnknownKind("http")
            .Should().Be("unknown health check 'http' (sip-options, command, tcp, diameter, gtpv2-echo or call)");
        ErrorOf("  - echo: { text: hello }\n", HealthCheckKinds.BuiltIn)
            .Should().Be("nf/probe/nf.yaml:3: unknown health check 'echo' (sip-options, command, tcp, diameter, gtpv2-echo or call)");
        ErrorOf("  - http: { url: x }\n", WithEcho)
            .Should().Be("nf/probe/nf.yaml:3: unknown health check 'http' (sip-options, command, tcp, diameter, gtpv2-echo, call or echo)");
        ErrorOf("  - when: \"{{ true }}\"\n", HealthCheckKinds.BuiltIn).Should().Be("nf/probe/nf.yaml:3: a health check is one of: " +
            "sip-options: {...}, command: {...}, tcp: {...}, diameter: {...}, gtpv2-echo: {...}, call: {...} (and an optional when:)");
        ErrorOf("  - tcp: [127.0.0.1]\n", HealthCheckKinds.BuiltIn)
            .Should().Be("nf/probe/nf.yaml:3: health check 'tcp' needs a mapping of arguments");

        // at run time (a state written by another version), the check fails with the kind it does not know
        var check = new HealthCheckSpec("localhost", "probe", "http", ImmutableSortedDictionary<string, string>.Empty);
        (await new HealthChecker().CheckAsync(check, new LocalShell(), TimeSpan.Zero, Ct))
            .Should().Be(new HealthResult(false, "unknown health check kind http"));
        HealthChecker.Kinds.Should().BeEquivalentTo(HealthCheckKinds.BuiltIn.Names);
    }

    [Fact]
    public void A_kind_registered_twice_is_refused()
    {
        var act = () => WithEcho.With(new EchoCheck());
        act.Should().Throw<ArgumentException>().WithMessage("health check kind 'echo' is registered twice*");
    }

    [Fact]
    public void A_lint_is_found_in_the_registry_and_an_unknown_one_lists_those_there_are()
    {
        Lint.Find("python").Should().BeOfType<PythonLint>();
        Lint.Find("pyton").Should().BeNull();
        Lint.Unknown("pyton").Should().Be("unknown lint 'pyton' (python: the content must compile with python3)");
        var act = () => Lint.Check("pyton", "x.py", "", Ct);
        act.Should().Throw<DeployException>().WithMessage("unknown lint 'pyton'");
    }

    [Fact]
    public void The_sip_and_diameter_probes_trust_a_peer_by_the_same_ca_check()
    {
        var (siteCa, server) = Pki("Site CA", "pgw-1.lab.test");
        var (otherCa, _) = Pki("Other CA", "pgw-1.lab.test");
        var diameter = new DiameterTls(server, siteCa, "pgw-1.lab.test");

        CaTrust.Verify(siteCa, "pgw-1.lab.test", server, SslPolicyErrors.None).Should().BeNull();
        diameter.Trusts(server, SslPolicyErrors.None).Should().BeTrue();
        SipOptionsProbe.Verify(new SipTls(siteCa, "pgw-1.lab.test"), server, SslPolicyErrors.None).Should().BeNull();

        var name = SipOptionsProbe.Verify(new SipTls(siteCa, "pcscf.lab.test"), server, SslPolicyErrors.RemoteCertificateNameMismatch);
        name.Should().Be("the server's certificate (CN=pgw-1.lab.test) is not for pcscf.lab.test");
        diameter.Trusts(server, SslPolicyErrors.RemoteCertificateNameMismatch).Should().BeFalse();

        var foreign = SipOptionsProbe.Verify(new SipTls(otherCa, null), server, SslPolicyErrors.None);
        foreign.Should().StartWith("the server's certificate (CN=pgw-1.lab.test, issued by CN=Site CA) does not chain to the trusted CA CN=Other CA");
        (diameter with { TrustedCa = otherCa }).Trusts(server, SslPolicyErrors.None).Should().BeFalse();
        CaTrust.Verify(siteCa, null, null, SslPolicyErrors.None).Should().Be("the server sent no certificate");
    }

    private static (X509Certificate2 Ca, X509Certificate2 Leaf) Pki(string caName, string leafName)
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest($"CN={caName}", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        using var leafKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var leafRequest = new CertificateRequest($"CN={leafName}", leafKey, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(leafName);
        names.AddIpAddress(IPAddress.Loopback);
        leafRequest.CertificateExtensions.Add(names.Build());
        using var leaf = leafRequest.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(10), [1, 2, 3, 4]);
        return (X509CertificateLoader.LoadCertificate(ca.RawData), X509CertificateLoader.LoadCertificate(leaf.RawData));
    }
}
