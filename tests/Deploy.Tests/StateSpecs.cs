using System.Collections.Immutable;
using AwesomeAssertions;
using Deploy.Core.Model;
using Deploy.Core.State;

namespace Deploy.Tests;

public sealed class StateSpecs : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "nfd-state-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static StackState Sample() => StackState.Empty("lab") with
    {
        Updated = DateTimeOffset.Parse("2026-11-29T00:00:00Z"),
        Resources = [new ResourceRecord("urn:pulumi:lab::nf-deploy::nfdeploy:fs:File::k1:/etc/x", "nfdeploy:fs:File", "k1", "/etc/x",
            ImmutableSortedDictionary<string, string>.Empty.Add("path", "/etc/x"),
            ImmutableSortedDictionary<string, string>.Empty.Add("sha256", "abc"))],
        Hosts = ImmutableSortedDictionary<string, HostRecord>.Empty.Add("k1", new HostRecord("k1", true, HostFacts.Assumed("k1", "10.211.0.11"))),
    };

    [Fact]
    public async Task State_is_written_in_pulumis_file_backend_layout_and_read_back_whole()
    {
        var store = new FileStateStore(_dir);
        await store.SaveAsync(Sample(), TestContext.Current.CancellationToken);

        File.Exists(Path.Combine(_dir, ".pulumi", "stacks", "nf-deploy", "lab.json")).Should().BeTrue();
        var back = await store.LoadAsync("lab", TestContext.Current.CancellationToken);
        back.Resources.Should().ContainSingle().Which.Outputs["sha256"].Should().Be("abc");
        back.Hosts["k1"].Facts.DefaultIPv4.Should().Be("10.211.0.11");
        back.Hosts["k1"].Facts.Interfaces.Select(i => i.Name).Should().Equal("lo", "eth0");
    }

    [Fact]
    public async Task Pending_restarts_are_kept_as_host_and_service_and_a_malformed_one_is_a_clear_error()
    {
        var store = new FileStateStore(_dir);
        var ct = TestContext.Current.CancellationToken;
        await store.SaveAsync(Sample() with { PendingRestarts = [new PendingRestart("k1", "kamailio@pcscf")] }, ct);

        var file = Path.Combine(_dir, ".pulumi", "stacks", "nf-deploy", "lab.json");
        File.ReadAllText(file).Should().Contain("\"k1:kamailio@pcscf\"", "the state file keeps Pulumi-style strings");
        (await store.LoadAsync("lab", ct)).PendingRestarts.Should().Equal(new PendingRestart("k1", "kamailio@pcscf"));

        File.WriteAllText(file, File.ReadAllText(file).Replace("\"k1:kamailio@pcscf\"", "\"kamailio\"", StringComparison.Ordinal));
        var load = () => store.LoadAsync("lab", ct);
        (await load.Should().ThrowAsync<DeployException>()).Which.Message.Should().Contain("pending restart 'kamailio' is not host:resource");
    }

    [Fact]
    public async Task A_second_run_on_a_locked_stack_is_refused_and_the_lock_is_released_after()
    {
        var store = new FileStateStore(_dir);
        await using (await store.LockAsync("lab", "up", TestContext.Current.CancellationToken))
        {
            var act = () => store.LockAsync("lab", "up", TestContext.Current.CancellationToken);
            (await act.Should().ThrowAsync<DeployException>()).Which.Message.Should().StartWith("stack lab is locked by 'up' (pid " + Environment.ProcessId);
        }
        await using var again = await store.LockAsync("lab", "preview", TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task A_lock_left_by_a_dead_process_is_named_stale_with_the_command_that_breaks_it()
    {
        var store = new FileStateStore(_dir);
        Directory.CreateDirectory(Path.GetDirectoryName(store.LockPath("lab"))!);
        await File.WriteAllTextAsync(store.LockPath("lab"),
            $"{{\"pid\": 999999, \"host\": \"{Environment.MachineName}\", \"operation\": \"up\", \"since\": \"2026-11-29T00:00:00Z\"}}", TestContext.Current.CancellationToken);
        var act = () => store.LockAsync("lab", "up", TestContext.Current.CancellationToken);
        (await act.Should().ThrowAsync<DeployException>()).Which.Message.Should().EndWith("that process is gone: break the stale lock with `./deploy cancel --stack lab`.");
        store.BreakLock("lab").Should().BeTrue();
        await using var ok = await store.LockAsync("lab", "up", TestContext.Current.CancellationToken);
    }

}
