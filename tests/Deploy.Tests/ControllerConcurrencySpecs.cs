using System.Text.RegularExpressions;
using AwesomeAssertions;
using Deploy.Cli;
using Deploy.Core.Model;
using Deploy.Core.State;
using Deploy.Site.Model;

namespace Deploy.Tests;

/// <summary>Several nf-deploy processes on one project: one writer at a time for the stack file, its salt and the state;
/// a run's lock is respected whoever holds it, and a run releases only its own lock.</summary>
[Collection(PassphraseEnvironment.Name)]
public sealed class ControllerConcurrencySpecs
{
    private static readonly (string Key, string Value, string Shown)[] Twelve =
    [
        ("kamailioVersion", "5.7", "5.7"), ("kamailioRepo", "http://mirror.example/k", "http://mirror.example/k"),
        ("sipDomain", "sip.example", "sip.example"), ("realm", "epc.example", "epc.example"), ("pgwCount", "7", "7"),
        ("diameterTls", "false", "false"), ("open5gsVersion", "2.6", "2.6"), ("open5gsRepo", "http://mirror.example/o ./", "http://mirror.example/o ./"),
        ("dnsServers", "[192.0.2.9]", "[192.0.2.9]"), ("pcscfAddresses", "[192.0.2.7]", "[192.0.2.7]"),
        ("kamailioRepoKeyFingerprint", TestKeys.Fingerprint, TestKeys.Fingerprint), ("open5gsRepoKeyFingerprint", TestKeys.OtherFingerprint, TestKeys.OtherFingerprint),
    ];

    [Fact]
    public async Task Twelve_parallel_config_set_processes_lose_no_setting()
    {
        using var site = SiteFixture.FromRepo();

        var runs = await Task.WhenAll(Twelve.Select(s => DeployProcess.RunAsync(site.Dir, null, "config", "set", s.Key, s.Value, "--stack", "prod-example")));

        runs.Should().AllSatisfy(r => (r.Exit, r.Stderr).Should().Be((0, "")));
        var project = ProjectFile.Load(site.Dir);
        var config = StackConfig.Load(site.Dir, project, "prod-example");
        foreach (var (key, _, shown) in Twelve)
        {
            var (exit, stdout, _) = await DeployProcess.RunAsync(site.Dir, null, "config", "get", key, "--stack", "prod-example");
            (exit, stdout).Should().Be((0, shown + "\n"), $"{key} was set by one of the parallel runs");
        }
        config.Values["pgwCount"].Should().Be(7L);
        Directory.GetFiles(Path.Combine(site.Dir, "stacks")).Select(Path.GetFileName).Should().BeEquivalentTo(["Pulumi.lab.yaml", "Pulumi.prod-example.yaml"], "no temp file is left behind");
    }

    [Fact]
    public async Task Parallel_first_secrets_of_a_new_stack_share_one_salt_and_all_open()
    {
        using var site = SiteFixture.FromRepo();
        site.Append("Pulumi.yaml", "  secretA:\n    type: string\n    default: \"\"\n  secretB:\n    type: string\n    default: \"\"\n");
        var secrets = new[] { ("kamailioDbPassword", "db-Pass-1"), ("trunkPassword", "trunk-Pass-2"), ("secretA", "a-Pass-3"), ("secretB", "b-Pass-4") };
        (await DeployProcess.RunAsync(site.Dir, null, "stack", "init", "fresh")).Exit.Should().Be(0, "a stack is made by stack init only (it has no salt yet)");

        var runs = await Task.WhenAll(secrets.Select(s => DeployProcess.RunAsync(site.Dir, null, "config", "set", s.Item1, s.Item2, "--secret", "--stack", "fresh")));

        runs.Should().AllSatisfy(r => (r.Exit, r.Stderr).Should().Be((0, "")));
        var text = site.Read("stacks/Pulumi.fresh.yaml");
        Regex.Matches(text, "^encryptionsalt: ", RegexOptions.Multiline).Should().HaveCount(1, text);
        var config = StackConfig.Load(site.Dir, ProjectFile.Load(site.Dir), "fresh").Decrypted(SiteFixture.LabPassphrase);
        foreach (var (key, value) in secrets) config.Values[key].Should().Be(value);
    }

    [Fact]
    public void Twelve_parallel_in_process_edits_go_through_the_same_lock()
    {
        using var site = SiteFixture.FromRepo();
        var project = ProjectFile.Load(site.Dir);

        Parallel.ForEach(Twelve, new ParallelOptions { MaxDegreeOfParallelism = 12 }, s => StackConfig.Edit(site.Dir, project, "prod-example", s.Key, s.Value));

        var values = StackConfig.Load(site.Dir, project, "prod-example").Values;
        values["sipDomain"].Should().Be("sip.example");
        values["pgwCount"].Should().Be(7L);
        values["kamailioRepoKeyFingerprint"].Should().Be(TestKeys.Fingerprint);
        values["dnsServers"].Should().BeEquivalentTo(new List<object?> { "192.0.2.9" });
        Twelve.Where(s => !values.ContainsKey(s.Key)).Should().BeEmpty();
    }

    private static string Lock(int pid, string host) =>
        $"{{\"pid\": {pid}, \"host\": \"{host}\", \"operation\": \"up\", \"since\": \"2026-11-29T00:00:00Z\"}}";

    [Fact]
    public async Task A_lock_held_by_another_controller_is_respected_and_only_cancel_force_breaks_it()
    {
        using var site = SiteFixture.FromRepo();
        var store = new FileStateStore(site.Dir);
        site.Write(".pulumi/locks/nf-deploy/lab.json", Lock(1, "other-controller"));
        var ct = TestContext.Current.CancellationToken;

        var take = () => store.LockAsync("lab", "up", ct);
        (await take.Should().ThrowAsync<DeployException>()).Which.Message.Should().Be(
            "stack lab is locked by 'up' (pid 1 on other-controller, since 2026-11-29 00:00:00Z); it runs on another controller: wait for it to finish " +
            "(if that run is gone, break the lock with `./deploy cancel --stack lab --force`).");

        var (exit, _, stderr) = await DeployProcess.RunAsync(site.Dir, null, "cancel", "--stack", "lab");
        (exit, stderr).Should().Be((1, "error: stack lab is locked by 'up' (pid 1 on other-controller, since 2026-11-29 00:00:00Z), on another controller: " +
            "nf-deploy cannot tell whether it still runs; to break it anyway: `./deploy cancel --stack lab --force`\n"));
        site.Read(".pulumi/locks/nf-deploy/lab.json").Should().Be(Lock(1, "other-controller"));

        var forced = await DeployProcess.RunAsync(site.Dir, null, "cancel", "--stack", "lab", "--force");
        (forced.Exit, forced.Stdout).Should().Be((0, "the lock of stack lab was removed\n"));
        File.Exists(Path.Combine(site.Dir, ".pulumi/locks/nf-deploy/lab.json")).Should().BeFalse();
    }

    [Fact]
    public async Task A_live_run_on_this_controller_is_not_broken_by_a_plain_cancel()
    {
        using var site = SiteFixture.FromRepo();
        site.Write(".pulumi/locks/nf-deploy/lab.json", Lock(Environment.ProcessId, Environment.MachineName));
        var app = new App(new Workspace(site.Dir), new StringWriter(), new StringWriter(), 4, false);

        var act = () => app.Cancel("lab");

        act.Should().Throw<DeployException>().Which.Message.Should().EndWith(", which is still running; to break it anyway: `./deploy cancel --stack lab --force`");
        site.Read(".pulumi/locks/nf-deploy/lab.json").Should().Be(Lock(Environment.ProcessId, Environment.MachineName));
        await Task.CompletedTask;
    }

    [Fact]
    public async Task A_run_whose_lock_was_broken_does_not_release_the_next_runs_lock()
    {
        using var site = SiteFixture.FromRepo();
        var ct = TestContext.Current.CancellationToken;
        var first = new FileStateStore(site.Dir);
        var second = new FileStateStore(site.Dir);
        var firstLock = await first.LockAsync("lab", "up", ct);
        second.BreakLock("lab", force: true).Should().BeTrue();
        await using var secondLock = await second.LockAsync("lab", "up", ct);
        var held = site.Read(".pulumi/locks/nf-deploy/lab.json");

        await firstLock.DisposeAsync();

        site.Read(".pulumi/locks/nf-deploy/lab.json").Should().Be(held, "the first run releases only a lock that is still its own");
        var third = () => first.LockAsync("lab", "up", ct);
        (await third.Should().ThrowAsync<DeployException>()).Which.Message.Should().EndWith("; wait for it to finish.");
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task The_state_and_its_backup_are_readable_by_the_owner_only()
    {
        using var site = SiteFixture.FromRepo();
        var store = new FileStateStore(site.Dir);
        var ct = TestContext.Current.CancellationToken;
        await store.SaveAsync(StackState.Empty("lab"), ct);
        await store.SaveAsync(StackState.Empty("lab"), ct);

        File.GetUnixFileMode(store.StatePath("lab")).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.GetUnixFileMode(store.StatePath("lab") + ".bak").Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Directory.GetFiles(Path.GetDirectoryName(store.StatePath("lab"))!).Select(Path.GetFileName).Should().BeEquivalentTo(["lab.json", "lab.json.bak"], "no temp file is left");
    }

    [Theory]
    [InlineData("{}", "no checkpoint.latest")]
    [InlineData("{\"checkpoint\":null}", "no checkpoint.latest")]
    [InlineData("null", "no checkpoint.latest")]
    [InlineData("{\"version\":3,\"checkpoint\":{\"stack\":\"prod-example\",\"latest\":{\"manifest\":null}}}", "checkpoint.latest lacks manifest, resources, hosts or pendingRestarts")]
    public async Task A_state_file_without_a_checkpoint_is_one_error_line(string json, string why)
    {
        using var site = SiteFixture.FromRepo();
        site.Write(".pulumi/stacks/nf-deploy/prod-example.json", json);
        var before = FaultCatalogueSpecs.Snapshot(site.Dir);

        var (exit, stdout, stderr) = await DeployProcess.RunAsync(site.Dir, null, "render", "--stack", "prod-example", "--out", "out");

        (exit, stdout).Should().Be((1, ""));
        stderr.Should().Be($"error: .pulumi/stacks/nf-deploy/prod-example.json: the state file is not a valid checkpoint ({why}); restore it from .pulumi/stacks/nf-deploy/prod-example.json.bak\n");
        FaultCatalogueSpecs.Snapshot(site.Dir).Should().Equal(before);
    }
}
