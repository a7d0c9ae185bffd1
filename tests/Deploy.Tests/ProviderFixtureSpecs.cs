using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text.Json.Nodes;
using AwesomeAssertions;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Core.Transport;
using Deploy.Resources;

namespace Deploy.Tests;

/// <summary>
/// Provider fixtures in the spirit of pyinfra's JSON tests: each file of Fixtures/Providers holds a resource, what its
/// probe printed on a host (and the host's facts), and what must come out: the diff, and the script the apply sends (run
/// against a recording transport that answers with the state after). A new case of a provider is a new JSON file.
/// </summary>
public sealed class ProviderFixtureSpecs
{
    private static readonly string Dir = Path.Combine(AppContext.BaseDirectory, "Fixtures", "Providers");
    private static readonly ImmutableDictionary<string, IResourceProvider> Providers = ResourceProviders.All();

    public static TheoryData<string> Cases() => [.. Directory.GetFiles(Dir, "*.json").Select(f => Path.GetFileNameWithoutExtension(f)).Order()];

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_provider_turns_probe_output_into_the_diff_and_the_script_of_its_fixture(string name)
    {
        var fixture = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(Dir, name + ".json"), TestContext.Current.CancellationToken))!;
        var spec = Spec(fixture["spec"]!);
        var provider = Providers[spec.Type];
        var facts = Facts(fixture["facts"]);

        var live = provider.Parse(spec, Strings(fixture["probe"]), facts);
        var diff = provider.Diff(spec, live);

        var expected = fixture["diff"]!;
        diff.Op.ToString().ToLowerInvariant().Should().Be((string)expected["op"]!, (string?)fixture["story"]);
        diff.Changes.Select(c => c.Name).Should().Equal(expected["changes"]!.AsArray().Select(c => (string)c!), (string?)fixture["story"]);

        if (fixture["adopt"] is { } adopt) await AdoptionAsync(provider, spec, live, adopt, facts, (string?)fixture["story"]);

        var apply = fixture["apply"];
        var applied = apply is null ? diff : new ResourceDiff(Op((string)apply["op"]!), diff.Changes)
        {
            Triggers = [.. apply["triggers"]!.AsArray().Select(t => new StepTrigger(Trigger((string)t!), "fixture"))],
        };
        if (applied.Op == StepOp.Same) { fixture["script"].Should().BeNull("a fixture whose diff is the same applies nothing"); return; }

        var host = new RecordingHost(Strings(fixture["after"]) is { Count: > 0 } after ? after : DefaultAfter(spec));
        var state = await provider.ApplyAsync(spec, applied, new HostRun(host, facts) { RunId = "20261201000000" }, TestContext.Current.CancellationToken);
        state.Should().NotBeNull();
        var script = host.Scripts.Should().ContainSingle().Which;
        foreach (var part in fixture["script"]?["contains"]?.AsArray() ?? [])
            script.Should().Contain((string)part!, (string?)fixture["story"]);
        foreach (var part in fixture["script"]?["lacks"]?.AsArray() ?? [])
            script.Should().NotContain((string)part!, (string?)fixture["story"]);
    }

    /// <summary>A fixture's <c>adopt</c>: whether the live state shows the resource there before nf-deploy, and the scripts
    /// that keep its original (<c>keep</c>) and hand it back (<c>release</c>, from <c>original</c> or the live state);
    /// a script left out of the fixture must not be sent.</summary>
    private static async Task AdoptionAsync(IResourceProvider provider, ResourceSpec spec, LiveState? live, JsonNode adopt, HostFacts facts,
        string? story)
    {
        var adoptable = provider.Should().BeAssignableTo<IAdoptable>(story).Which;
        live.Should().NotBeNull("an adoption starts from what the host has");
        adoptable.Existed(live!).Should().Be((bool)adopt["existed"]!, story);
        var keep = new RecordingHost(new Dictionary<string, string>());
        await adoptable.KeepOriginalAsync(spec, new HostRun(keep, facts), TestContext.Current.CancellationToken);
        Expect(keep.Scripts, adopt["keep"], story);
        var original = Strings(adopt["original"]) is { Count: > 0 } given
            ? given.ToImmutableSortedDictionary(StringComparer.Ordinal) : live!.Props;
        var release = new RecordingHost(new Dictionary<string, string>());
        await adoptable.ReleaseAsync(spec.Identity, original, new HostRun(release, facts), TestContext.Current.CancellationToken);
        Expect(release.Scripts, adopt["release"], story);
    }

    private static void Expect(IReadOnlyCollection<string> scripts, JsonNode? expected, string? story)
    {
        if (expected is null) { scripts.Should().BeEmpty(story); return; }
        var script = scripts.Should().ContainSingle(story).Which;
        foreach (var part in expected["contains"]?.AsArray() ?? [])
            script.Should().Contain((string)part!, story);
        foreach (var part in expected["lacks"]?.AsArray() ?? [])
            script.Should().NotContain((string)part!, story);
    }

    private static ResourceSpec Spec(JsonNode n)
    {
        string S(string key) => (string)n[key]!;
        string? Opt(string key) => (string?)n[key];
        bool Flag(string key, bool otherwise) => n[key] is { } v ? (bool)v : otherwise;
        return S("kind") switch
        {
            "file" => new FileSpec(S("path"), S("content"), S("user"), S("group"), S("mode")) { Host = "h", Name = S("path"), Block = Opt("block") },
            "directory" => new DirectorySpec(S("path"), S("user"), S("group"), S("mode")) { Host = "h", Name = S("path") },
            "package" => new PackageSpec(S("package")) { Host = "h", Name = S("package"), Version = Opt("version") },
            "service" => new ServiceSpec(S("service"))
            {
                Host = "h", Name = S("service"), PidFile = Opt("pidfile"), Running = Flag("running", true), Enabled = Flag("enabled", true),
            },
            "hostname" => new HostnameSpec(S("hostname")) { Host = "h", Name = "hostname" },
            var kind => throw new InvalidOperationException($"fixture kind '{kind}' is not known to ProviderFixtureSpecs"),
        };
    }

    /// <summary>What a file or directory looks like after its apply, when the fixture does not say.</summary>
    private static Dictionary<string, string> DefaultAfter(ResourceSpec spec) => spec switch
    {
        FileSpec file => new() { ["exists"] = "1", ["block"] = "1", ["owner"] = file.User, ["group"] = file.Group, ["mode"] = file.Mode, ["sha256"] = file.Sha256 },
        DirectorySpec dir => new() { ["exists"] = "1", ["owner"] = dir.User, ["group"] = dir.Group, ["mode"] = dir.Mode },
        _ => throw new InvalidOperationException($"a fixture of {spec.Type} must give 'after'"),
    };

    private static HostFacts Facts(JsonNode? n)
    {
        var facts = HostFacts.Assumed("h", "10.0.0.1", init: (string?)n?["init"] ?? "sysv");
        return n?["packages"] is JsonObject packages
            ? facts with { Packages = packages.ToImmutableSortedDictionary(p => p.Key, p => (string)p.Value!, StringComparer.Ordinal) }
            : facts;
    }

    private static Dictionary<string, string> Strings(JsonNode? n) =>
        n is JsonObject map ? map.ToDictionary(p => p.Key, p => (string)p.Value!) : [];

    private static StepOp Op(string op) => Enum.Parse<StepOp>(op, ignoreCase: true);

    private static TriggerKind Trigger(string name) => name switch
    {
        "restart" => TriggerKind.Restart,
        "start" => TriggerKind.Start,
        "daemon-reload" => TriggerKind.ReloadDefinitions,
        _ => throw new InvalidOperationException($"trigger '{name}'"),
    };

    /// <summary>A host that records each script and answers with the fixture's state after the change.</summary>
    private sealed class RecordingHost(IReadOnlyDictionary<string, string> after) : IHostTransport
    {
        private readonly ConcurrentQueue<string> _scripts = new();

        public IReadOnlyCollection<string> Scripts => _scripts;

        public string HostName => "h";

        public Task<ExecResult> RunAsync(string script, CancellationToken ct)
        {
            _scripts.Enqueue(script);
            var probe = string.Concat(after.Select(p => $"{p.Key}={p.Value}\n"));
            return Task.FromResult(new ExecResult(0, "##nfd:after\n" + probe, ""));
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
