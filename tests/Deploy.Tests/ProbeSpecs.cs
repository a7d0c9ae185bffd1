using System.Collections.Immutable;
using AwesomeAssertions;
using Deploy.Core.Probes;
using Deploy.Core.Engine;
using Deploy.Core.Resources;
using Deploy.Resources;
using Deploy.Transport;

namespace Deploy.Tests;

/// <summary>Probes are shell: they are run here, on this machine's own files, through the local transport.</summary>
public sealed class ProbeSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nfd-probe-").FullName;
    private static readonly FileProvider Files = new(ResourceTypes.File);

    public void Dispose() => Directory.Delete(_dir, true);

    private FileSpec File_(string name, string? block = null) =>
        new(Path.Combine(_dir, name), "x", "root", "root", "0644") { Host = "localhost", Name = name, Block = block };

    [Fact]
    public async Task Reading_many_files_at_once_gives_what_reading_each_gives()
    {
        File.WriteAllText(Path.Combine(_dir, "a.cfg"), "alpha\n");
        File.WriteAllText(Path.Combine(_dir, "c.cfg"), "gamma\n");
        File.WriteAllText(Path.Combine(_dir, "hosts"), "127.0.0.1 localhost\n# BEGIN nf-deploy dmq\n10.0.0.2 dmq\n# END nf-deploy dmq\n");
        Directory.CreateDirectory(Path.Combine(_dir, "d.cfg"));
        var specs = new[] { File_("a.cfg"), File_("b.cfg"), File_("c.cfg"), File_("d.cfg"), File_("hosts", "dmq"), File_("hosts2", "dmq") };
        var ct = TestContext.Current.CancellationToken;
        var shell = new LocalShell();

        var batched = HostReader.Build(specs, _ => Files);
        var many = batched.Parse("localhost", (await shell.RunAsync(batched.Text, ct)).Stdout);
        var single = HostReader.Parse("localhost", (await shell.RunAsync(HostReader.BuildScript(specs.Select(s => (s.Key, Files.Probe(s.Identity)))), ct)).Stdout);

        batched.Text.Split("sha256sum").Length.Should().Be(4, "one sha256sum for all plain files, one per managed block (two here)");
        foreach (var s in specs)
        {
            var a = Files.Parse(s, many.Probes[s.Key], many.Facts);
            var b = Files.Parse(s, single.Probes[s.Key], single.Facts);
            a.Should().BeEquivalentTo(b, s.Name);
        }
        Files.Parse(specs[0], many.Probes[specs[0].Key], many.Facts)!["sha256"].Should().Be(Hashing.Sha256Hex("alpha\n"));
        Files.Parse(specs[1], many.Probes[specs[1].Key], many.Facts).Should().BeNull("b.cfg does not exist");
        Files.Parse(specs[3], many.Probes[specs[3].Key], many.Facts)!["exists"].Should().Be("other");
        Files.Parse(specs[4], many.Probes[specs[4].Key], many.Facts)!["sha256"].Should()
            .Be(Hashing.Sha256Hex("# BEGIN nf-deploy dmq\n10.0.0.2 dmq\n# END nf-deploy dmq\n"));
    }

    [Fact]
    public async Task The_facts_of_this_machine_are_read_by_the_facts_script()
    {
        var res = await new LocalShell().RunAsync(HostReader.BuildScript([]), TestContext.Current.CancellationToken);
        var facts = HostReader.Parse("localhost", res.Stdout).Facts;
        facts.Hostname.Should().Be(File.ReadAllText("/proc/sys/kernel/hostname").Trim());
        facts.Codename.Should().Be("bookworm");
        facts.Arch.Should().Be("amd64");
        facts.Interfaces.Should().Contain(i => i.Name == "lo" && i.IPv4.Contains("127.0.0.1"));
        facts.Packages.Should().ContainKey("dpkg");
    }

    [Fact]
    public void Packages_are_read_from_the_facts_without_a_probe_of_their_own()
    {
        var p = new PackageProvider();
        var spec = new PackageSpec("kamailio") { Host = "h", Name = "kamailio" };
        p.Probe(spec.Identity).Should().BeEmpty();
        var facts = Deploy.Core.Model.HostFacts.Assumed("h", "10.0.0.1") with
        {
            Packages = ImmutableSortedDictionary<string, string>.Empty.Add("kamailio", "5.6.3-2"),
        };
        p.Parse(spec, new Dictionary<string, string>(), facts)!["version"].Should().Be("5.6.3-2");
        p.Parse(spec with { Package = "sipsak", Name = "sipsak" }, new Dictionary<string, string>(), facts).Should().BeNull();
    }
}
