using AwesomeAssertions;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Resources;
using Deploy.Transport;

namespace Deploy.Tests;

/// <summary>Files that change together, written by the real script the file provider sends, run by a local shell:
/// each validated with all the new files of the set in place, then all moved, or none.</summary>
public sealed class FileSetSpecs : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "nfd-set-" + Guid.NewGuid().ToString("N")[..8]);
    private static readonly string User = Environment.UserName;

    public FileSetSpecs() => Directory.CreateDirectory(_dir);

    private FileSpec File_(string name, string content, string? validate = null) =>
        new(Path.Combine(_dir, name), content, User, User, "0600") { Host = "localhost", Name = Path.Combine(_dir, name), Validate = validate, Notify = ["svc"] };

    private static HostRun Run() => new(new LocalShell(), HostFacts.Assumed("localhost", "127.0.0.1"));

    private static ResourceDiff Update => new(StepOp.Update, [new PropertyChange("content", "a", "b")]);

    [Fact]
    public async Task Each_file_of_a_set_is_validated_with_the_new_files_of_the_set_in_place_then_all_are_moved()
    {
        File.WriteAllText(Path.Combine(_dir, "cert.pem"), "old cert\n");
        File.WriteAllText(Path.Combine(_dir, "key.pem"), "old key\n");
        // the certificate's check reads the key the way a trial start does: from NFD_SET, not the live (old) key
        var keyPath = Path.Combine(_dir, "key.pem");
        var check = $"for r in $NFD_SET; do [ \"${{r%%=*}}\" = '{keyPath}' ] && grep -q 'new key' \"${{r#*=}}\"; done && grep -q 'new cert' %s && grep -q 'old key' '{keyPath}'";
        var set = new (ResourceSpec, ResourceDiff)[] { (File_("cert.pem", "new cert\n", check), Update), (File_("key.pem", "new key\n"), Update) };

        var run = Run();
        var lives = await new FileProvider(ResourceTypes.File).ApplySetAsync(set, run, TestContext.Current.CancellationToken);

        File.ReadAllText(Path.Combine(_dir, "cert.pem")).Should().Be("new cert\n");
        File.ReadAllText(keyPath).Should().Be("new key\n");
        lives.Select(l => l["sha256"]).Should().Equal(set.Select(s => ((FileSpec)s.Item1).Sha256));
        run.Written.Select(w => w.Backup).Should().AllSatisfy(b => File.Exists(b).Should().BeTrue("the old files are kept for a rollback"));
        Directory.GetFiles(_dir, ".nfd-*").Should().BeEmpty();
    }

    [Fact]
    public async Task When_one_file_of_a_set_fails_its_validation_none_of_them_moves()
    {
        File.WriteAllText(Path.Combine(_dir, "kamailio.cfg"), "old cfg\n");
        File.WriteAllText(Path.Combine(_dir, "tls.cfg"), "old tls\n");
        var set = new (ResourceSpec, ResourceDiff)[] { (File_("kamailio.cfg", "new cfg\n", "true"), Update), (File_("tls.cfg", "broken\n", "echo 'unknown key' >&2; false"), Update) };

        var act = () => new FileProvider(ResourceTypes.File).ApplySetAsync(set, Run(), TestContext.Current.CancellationToken);

        (await act.Should().ThrowAsync<ResourceException>()).Which.Message.Should().Contain("validation failed, the old content stays").And.Contain("unknown key");
        File.ReadAllText(Path.Combine(_dir, "kamailio.cfg")).Should().Be("old cfg\n");
        File.ReadAllText(Path.Combine(_dir, "tls.cfg")).Should().Be("old tls\n");
        Directory.GetFiles(_dir, ".nfd-*").Should().BeEmpty();
    }

    [Fact]
    public async Task A_check_sees_each_new_file_with_the_mode_it_will_have_as_a_daemons_key_check_needs()
    {
        // an Open5GS key is 0640 for its group: the check that a daemon's user can read it must see 0640, not mktemp's 0600
        var key = File_("key.pem", "new key\n", "test \"$(stat -c %a %s)\" = 640 || { stat -c %a %s >&2; false; }") with { Mode = "0640" };

        await new FileProvider(ResourceTypes.File).ApplySetAsync([(key, Update)], Run(), TestContext.Current.CancellationToken);

        (await new LocalShell().RunAsync($"stat -c %a '{key.Path}'", TestContext.Current.CancellationToken)).Stdout.Trim().Should().Be("640");
    }

    [Fact]
    public async Task An_owner_or_mode_change_of_a_checked_file_is_checked_and_a_refused_one_leaves_the_file_as_it_was()
    {
        // a key whose new mode its daemon's user could not read: the check refuses it, the live key keeps its mode
        var path = Path.Combine(_dir, "key.pem");
        File.WriteAllText(path, "key\n");
        await new LocalShell().RunAsync($"chmod 640 '{path}'", TestContext.Current.CancellationToken);
        var key = File_("key.pem", "key\n", "test \"$(stat -c %a %s)\" = 640 || { echo 'would be unreadable' >&2; false; }");
        var modeOnly = new ResourceDiff(StepOp.Update, [new PropertyChange("mode", "0640", "0600")]);

        var act = () => new FileProvider(ResourceTypes.File).ApplyAsync(key, modeOnly, Run(), TestContext.Current.CancellationToken);

        (await act.Should().ThrowAsync<ResourceException>()).Which.Message.Should().Contain("would be unreadable");
        (await new LocalShell().RunAsync($"stat -c %a '{path}'", TestContext.Current.CancellationToken)).Stdout.Trim().Should().Be("640");
    }

    public void Dispose() => Directory.Delete(_dir, true);
}
