using System.Collections.Immutable;
using AwesomeAssertions;
using Deploy.Cli;
using Deploy.Core.Resources;
using Deploy.Core.State;
using Deploy.Resources;

namespace Deploy.Tests;

/// <summary>
/// Brownfield hosts: what was on a host before nf-deploy first applies it (Kamailio installed and configured by hand) is
/// adopted, not owned. Preview says "adopt" and diffs from the hand-written config, changing nothing; up keeps the
/// original and records the adoption; destroy hands it back (the hand config restored, the service as it was) where it
/// deletes what nf-deploy made. The real engine and providers on fake hosts.
/// </summary>
public sealed class AdoptionSpecs : IDisposable
{
    private const string Cfg = ProxySite.ConfigPath;
    private const string Svc = ProxySite.ServiceName;
    private const string Hand = "# written by hand\nlisten=udp:0.0.0.0:5060\n";
    private const string Desired = "listen=udp:0.0.0.0:5060\nmax_while_loops=100\n";
    private static readonly string Kept = FileProvider.AdoptedRoot + Cfg;

    private readonly List<EngineRig> _rigs = [];
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private EngineRig Rig(FakeHost host)
    {
        var rig = new EngineRig(host);
        _rigs.Add(rig);
        return rig;
    }

    /// <summary>A host configured by hand: its kamailio.cfg and the running kamailio service are there; nf-deploy's state
    /// is empty.</summary>
    private EngineRig HandConfigured() => Rig(new FakeHost("sip1", "10.0.0.21").WithFile(Cfg, Hand, mode: "0600").WithService(Svc));

    private static string Urn(ProxySite site, string type, string name) => $"urn:pulumi:{site.Stack}::nf-deploy::{type}::sip1:{name}";

    [Fact]
    public async Task A_preview_of_a_hand_configured_host_says_adopt_and_diffs_from_the_hand_config_and_changes_nothing()
    {
        var rig = HandConfigured();
        var site = ProxySite.Of(rig.Hosts, Desired);

        var (plan, sent) = await rig.PreviewAsync(site, Ct);

        var file = plan.Steps.Single(st => st.Type == ResourceTypes.File);
        file.Adopt.Should().BeTrue("the config was on the host before nf-deploy");
        file.Op.Should().Be(StepOp.Update);
        file.ContentDiff.Should().Contain("-# written by hand").And.Contain("+max_while_loops=100");
        plan.Steps.Single(st => st.Type == ResourceTypes.Service).Adopt.Should().BeTrue();
        plan.HasChanges.Should().BeTrue("an adoption changes the state, as Pulumi's import does");
        var text = PlanPrinter.Text(plan, showSames: false);
        text.Should().Contain($"~ {ResourceTypes.File,-24} {Cfg}  (adopt: on the host before nf-deploy)")
            .And.Contain($"{ResourceTypes.Service,-24} {Svc}  (adopt: on the host before nf-deploy)")
            .And.Contain("= 2 to adopt");
        PlanPrinter.Json(plan).Should().Contain("\"adopt\": true");
        sent["sip1"].Select(s => s.Kind).Should().Equal(ScriptKind.Read, ScriptKind.ContentFetch);
        rig["sip1"].File(Cfg)!.Content.Should().Be(Hand, "a preview writes nothing");
        rig["sip1"].File(Kept).Should().BeNull();
    }

    [Fact]
    public async Task Up_keeps_the_hand_config_aside_records_the_adoption_and_a_second_up_changes_nothing()
    {
        var rig = HandConfigured();
        var site = ProxySite.Of(rig.Hosts, Desired);

        var first = await rig.UpAsync(site, Ct);

        first.Report!.Ok.Should().BeTrue();
        first.Sent["sip1"].Select(s => s.Kind).Should().ContainInOrder(ScriptKind.Keep, ScriptKind.Write, ScriptKind.Service);
        rig["sip1"].File(Cfg)!.Content.Should().Be(Desired);
        rig["sip1"].File(Kept).Should().Be(new FakeFile(Hand, "root", "root", "0600"), "the original is kept with its owner and mode");
        var record = first.State.Find(Urn(site, ResourceTypes.File, Cfg))!;
        record.Adopted.Should().NotBeNull();
        record.Adopted!["sha256"].Should().Be(Hashing.Sha256Hex(Hand), "the state says what the host had");
        first.State.Find(Urn(site, ResourceTypes.Service, Svc))!.Adopted!["active"].Should().Be("1");

        var second = await rig.UpAsync(site, Ct);

        second.Changes("sip1").Should().BeEmpty();
        second.Sent["sip1"].Select(s => s.Kind).Should().NotContain(ScriptKind.Keep, "an adoption happens once");
        second.State.Find(Urn(site, ResourceTypes.File, Cfg))!.Adopted.Should().Equal(record.Adopted, "an adopted resource stays adopted");
        (await rig.PreviewAsync(site, Ct)).Plan.HasChanges.Should().BeFalse();
    }

    [Fact]
    public async Task Destroy_puts_the_hand_config_back_and_restarts_the_adopted_service_on_it()
    {
        var rig = HandConfigured();
        var site = ProxySite.Of(rig.Hosts, Desired);
        (await rig.UpAsync(site, Ct)).Report!.Ok.Should().BeTrue();
        var pid = rig["sip1"].Service(Svc)!.Pid;

        var (problems, sent) = await rig.DestroyAsync(site, Ct);

        problems.Should().BeEmpty();
        rig["sip1"].File(Cfg).Should().Be(new FakeFile(Hand, "root", "root", "0600"));
        rig["sip1"].File(Kept).Should().BeNull("the kept copy went back in place");
        sent["sip1"].Select(s => (s.Kind, s.Target)).Should().Equal((ScriptKind.Restore, Cfg), (ScriptKind.Service, Svc));
        rig["sip1"].Service(Svc)!.Should().Match<FakeService>(s => s.Active && s.Enabled && s.Pid != pid,
            "it ran before nf-deploy: it runs again, on the hand config");
    }

    [Fact]
    public async Task What_nf_deploy_created_is_deleted_by_destroy_as_before()
    {
        var rig = Rig(new FakeHost("sip1", "10.0.0.21").WithService(Svc));
        var site = ProxySite.Of(rig.Hosts, Desired);
        var up = await rig.UpAsync(site, Ct);
        up.State.Find(Urn(site, ResourceTypes.File, Cfg))!.Adopted.Should().BeNull("nf-deploy wrote the file: it owns it");

        var (problems, sent) = await rig.DestroyAsync(site, Ct);

        problems.Should().BeEmpty();
        rig["sip1"].File(Cfg).Should().BeNull();
        sent["sip1"].Select(s => s.Kind).Should().StartWith(ScriptKind.Delete);
    }

    [Fact]
    public async Task A_checkpoint_written_before_adoption_existed_keeps_owning_its_resources()
    {
        var rig = Rig(new FakeHost("sip1", "10.0.0.21").WithFile(Cfg, Desired).WithService(Svc));
        var site = ProxySite.Of(rig.Hosts, Desired);
        // the state of an older nf-deploy: the same resources, recorded without the adopted field
        var stored = (await rig.UpAsync(site, Ct)).State;
        var old = stored with { Resources = [.. stored.Resources.Select(r => r with { Adopted = null })] };
        await rig.Store.SaveAsync(old, Ct);
        var json = await File.ReadAllTextAsync(rig.Store.StatePath(site.Stack), Ct);
        json.Should().NotContain("adopted");

        var (plan, _) = await rig.PreviewAsync(site, Ct);
        plan.Steps.Should().NotContain(s => s.Adopt);
        var (_, sent) = await rig.DestroyAsync(site, Ct);

        rig["sip1"].File(Cfg).Should().BeNull("without the field a resource is owned, and destroy deletes it as it did");
        sent["sip1"].Select(s => s.Kind).Should().NotContain(ScriptKind.Restore);
    }

    [Fact]
    public void The_adoption_travels_in_the_checkpoint_and_its_export()
    {
        var adopted = ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, [KeyValuePair.Create("version", "5.6.3-2")]);
        var state = StackState.Empty("s") with
        {
            Updated = DateTimeOffset.UnixEpoch,
            Resources =
            [
                new ResourceRecord("urn:pulumi:s::nf-deploy::nfdeploy:pkg:Package::h:kamailio", ResourceTypes.Package, "h", "kamailio",
                    ImmutableSortedDictionary<string, string>.Empty.Add("package", "kamailio"), adopted) { Adopted = adopted },
            ],
        };

        var back = CheckpointJson.Parse(CheckpointJson.Serialize(state), "s", "export");

        back.Resources.Single().Adopted.Should().Equal(adopted);
        var owned = StackState.Empty("s") with { Resources = [state.Resources[0] with { Adopted = null }] };
        CheckpointJson.Parse(CheckpointJson.Serialize(owned), "s", "export").Resources.Single().Adopted.Should().BeNull();
    }

    public void Dispose()
    {
        foreach (var rig in _rigs) rig.Dispose();
    }
}
