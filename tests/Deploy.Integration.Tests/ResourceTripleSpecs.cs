using System.Collections.Immutable;
using AwesomeAssertions;
using Deploy.Core.Engine;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Core.Transport;
using static Deploy.Integration.Tests.ResourceTriple;
using Deploy.Resources;
using Deploy.Transport;

namespace Deploy.Integration.Tests;

/// <summary>
/// Every resource type on a real lab host (kamailio-2, reached as a sudo user): check (read + diff says what would
/// change, and changes nothing), apply, apply again (the diff is empty and nothing on the host moved).
/// </summary>
[Collection("lab")]
public sealed class ResourceTripleSpecs(RolledOutLab lab)
{
    private const string Host = "kamailio-2";

    private Task<IHostTransport> ConnectAsync() => lab.Site.ConnectAsync(Host, "10.212.0.12");

    [Fact]
    public async Task A_file_is_created_validated_owned_and_left_alone_the_second_time()
    {
        await using var t = await ConnectAsync();
        const string path = "/srv/nfd-triple/app.conf";
        var spec = new FileSpec(path, "hello = world\n", "root", "kamailio", "0640") { Host = Host, Name = path, Validate = "grep -q '^hello' %s" };
        await t.RunAsync($"rm -rf /srv/nfd-triple", TestContext.Current.CancellationToken);

        var live = await TripleAsync(t, spec, StepOp.Create, $"stat -c '%Y %i %U:%G %a' {path}");
        live["mode"].Should().Be("0640");
        live["group"].Should().Be("kamailio");

        // an update keeps a backup of the old content
        var v2 = spec with { Content = "hello = again\n" };
        await TripleAsync(t, v2, StepOp.Update, $"cat {path}");
        (await t.RunAsync("ls /srv/nfd-triple | grep -c 'app.conf.*nfd~'", TestContext.Current.CancellationToken)).Stdout.Trim().Should().Be("1");

        // content the validate command rejects never replaces the file
        var bad = spec with { Content = "goodbye\n" };
        var (l, facts) = await ReadAsync(t, bad);
        var act = () => Providers[bad.Type].ApplyAsync(bad, Providers[bad.Type].Diff(bad, l), new HostRun(t, facts), TestContext.Current.CancellationToken);
        (await act.Should().ThrowAsync<ResourceException>()).Which.Message.Should().StartWith($"host {Host}: {path}: validation failed, the old content stays");
        (await t.RunAsync($"cat {path}", TestContext.Current.CancellationToken)).Stdout.Should().Be("hello = again\n");
        (await t.RunAsync("ls -a /srv/nfd-triple | grep -c '^.nfd-' || true", TestContext.Current.CancellationToken)).Stdout.Trim().Should().Be("0", "no temp file is left");

        await DeleteAsync(t, spec);
    }

    [Fact]
    public async Task A_managed_block_is_added_to_a_file_in_place_and_the_rest_of_the_file_is_kept()
    {
        await using var t = await ConnectAsync();
        const string path = "/srv/nfd-block/hosts";
        await t.RunAsync($"mkdir -p /srv/nfd-block && printf '127.0.0.1 localhost\\n' > {path}", TestContext.Current.CancellationToken);
        var spec = new FileSpec(path, "10.212.0.11 dmq-56.lab.example", "root", "root", "0644") { Host = Host, Name = path + "#dmq", Block = "dmq" };

        await TripleAsync(t, spec, StepOp.Create, $"stat -c '%Y %i' {path}; cat {path}");
        (await t.RunAsync($"cat {path}", TestContext.Current.CancellationToken)).Stdout.Should()
            .Be("127.0.0.1 localhost\n# BEGIN nf-deploy dmq\n10.212.0.11 dmq-56.lab.example\n# END nf-deploy dmq\n");
        await TripleAsync(t, spec with { Content = "10.212.0.13 dmq-56.lab.example" }, StepOp.Update, $"cat {path}");

        await DeleteAsync(t, spec);
        (await t.RunAsync($"cat {path}", TestContext.Current.CancellationToken)).Stdout.Should().Be("127.0.0.1 localhost\n");
    }

    [Fact]
    public async Task A_directory_is_created_and_its_mode_corrected()
    {
        await using var t = await ConnectAsync();
        const string path = "/srv/nfd-dir/spool";
        await t.RunAsync("rm -rf /srv/nfd-dir", TestContext.Current.CancellationToken);
        var spec = new DirectorySpec(path, "kamailio", "kamailio", "0750") { Host = Host, Name = path };
        await TripleAsync(t, spec, StepOp.Create, $"stat -c '%Y %i %U %a' {path}");
        await t.RunAsync($"chmod 0777 {path}", TestContext.Current.CancellationToken);
        await TripleAsync(t, spec, StepOp.Update, $"stat -c '%U %a' {path}");
        await DeleteAsync(t, spec);
    }

    [Fact]
    public async Task An_apt_key_and_repository_are_written_and_the_package_index_is_refreshed_for_the_next_install()
    {
        await using var t = await ConnectAsync();
        var key = await File.ReadAllTextAsync("/var/lib/nf-deploy/mirror/kamailiodebkey.gpg", TestContext.Current.CancellationToken);
        var keySpec = new FileSpec("/etc/apt/keyrings/nfd-triple.asc", key, "root", "root", "0644") { Host = Host, Name = "/etc/apt/keyrings/nfd-triple.asc", Kind = ResourceTypes.AptKey, Backup = false };
        var repoSpec = new FileSpec("/etc/apt/sources.list.d/nfd-triple.list",
            "deb [signed-by=/etc/apt/keyrings/nfd-triple.asc] http://10.212.0.1:3142/nfd-mirror/kamailio56 bookworm main\n", "root", "root", "0644")
        { Host = Host, Name = "/etc/apt/sources.list.d/nfd-triple.list", Kind = ResourceTypes.AptRepository, Backup = false };
        var ct = TestContext.Current.CancellationToken;
        await DeleteAsync(t, repoSpec);
        await DeleteAsync(t, keySpec);
        // the site's own entry for the same mirror names another key file, which apt refuses: set it aside meanwhile
        await t.RunAsync("mv /etc/apt/sources.list.d/kamailio.list /root/kamailio.list.aside", ct);
        try
        {
            await TripleAsync(t, keySpec, StepOp.Create, "stat -c '%Y %i' /etc/apt/keyrings/nfd-triple.asc");
            await TripleAsync(t, repoSpec, StepOp.Create, "stat -c '%Y %i' /etc/apt/sources.list.d/nfd-triple.list");

            // a signed, reachable repository: apt accepts it with that key
            var update = await t.RunAsync("apt-get -q update 2>&1", ct);
            update.ExitCode.Should().Be(0, update.Stdout);
            update.Stdout.Should().Contain("nfd-mirror/kamailio56 bookworm InRelease").And.NotContain("NO_PUBKEY");

            await DeleteAsync(t, repoSpec);
            await DeleteAsync(t, keySpec);
        }
        finally
        {
            await t.RunAsync("rm -f /etc/apt/sources.list.d/nfd-triple.list; mv /root/kamailio.list.aside /etc/apt/sources.list.d/kamailio.list", ct);
        }
    }

    [Fact]
    public async Task A_package_install_waits_for_an_apt_lock_another_process_holds_then_installs()
    {
        await using var t = await ConnectAsync();
        var ct = TestContext.Current.CancellationToken;
        var spec = new PackageSpec("sipsak") { Host = Host, Name = "sipsak" };
        await t.RunAsync("DEBIAN_FRONTEND=noninteractive apt-get -q -y purge sipsak >/dev/null 2>&1 || true; rm -f /tmp/nfd-lock-held /tmp/nfd-lock-released", ct);
        // another apt client: dpkg's frontend lock taken as apt takes it (fcntl, whole file) for 8 s; it notes when it let go
        (await t.RunAsync("""
            nohup perl -MFcntl -e 'open(my $f, ">>", "/var/lib/dpkg/lock-frontend") or die; my $l = pack("s s x4 q q l x4", F_WRLCK, 0, 0, 0, 0); fcntl($f, F_SETLKW, $l) or die "lock: $!"; open(my $h, ">", "/tmp/nfd-lock-held"); close $h; sleep 8; open(my $r, ">", "/tmp/nfd-lock-released"); print $r time(); close $r' >/dev/null 2>&1 &
            for i in $(seq 50); do [ -e /tmp/nfd-lock-held ] && break; sleep 0.1; done
            DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=0 install sipsak 2>&1 | grep -o 'Could not get lock' | head -1
            """, ct)).Stdout.Should().Be("Could not get lock\n", "the lock is really held: apt without waiting gives up");

        var (live, facts) = await ReadAsync(t, spec);
        var applied = await Providers[spec.Type].ApplyAsync(spec, Providers[spec.Type].Diff(spec, live), new HostRun(t, facts), ct);

        applied["version"].Should().NotBeNullOrEmpty();
        var order = (await t.RunAsync("echo $(cat /tmp/nfd-lock-released) $(stat -c %Y /var/lib/dpkg/info/sipsak.list)", ct)).Stdout.Trim().Split(' ');
        order.Should().HaveCount(2, "the lock holder finished and the package is installed");
        long.Parse(order[1], System.Globalization.CultureInfo.InvariantCulture).Should().BeGreaterThanOrEqualTo(long.Parse(order[0], System.Globalization.CultureInfo.InvariantCulture),
            "dpkg installed it after the other process let go of the lock");
        await DeleteAsync(t, spec);
    }

    [Fact]
    public async Task A_package_is_installed_through_the_lab_apt_proxy_once_and_purged_on_delete()
    {
        await using var t = await ConnectAsync();
        var spec = new PackageSpec("sipsak") { Host = Host, Name = "sipsak" };
        await t.RunAsync("DEBIAN_FRONTEND=noninteractive apt-get -q -y purge sipsak >/dev/null 2>&1 || true", TestContext.Current.CancellationToken);
        var live = await TripleAsync(t, spec, StepOp.Create, "stat -c '%Y' /var/lib/dpkg/status");
        live["version"].Should().NotBeNullOrEmpty();
        await DeleteAsync(t, spec);
    }

    [Fact]
    public async Task The_hostname_in_etc_hostname_is_set_to_the_inventory_name()
    {
        await using var t = await ConnectAsync();
        await t.RunAsync("echo debian > /etc/hostname", TestContext.Current.CancellationToken);
        var spec = new HostnameSpec(Host) { Host = Host, Name = "hostname" };
        await TripleAsync(t, spec, StepOp.Update, "cat /etc/hostname");
        (await t.RunAsync("cat /etc/hostname", TestContext.Current.CancellationToken)).Stdout.Should().Be(Host + "\n");
    }

    [Fact]
    public async Task A_stopped_sysv_service_is_started_enabled_and_a_notified_restart_replaces_its_process()
    {
        // kamailio-3 is the lab's sysv host (ServiceTripleSpecs: the same on systemd)
        await using var t = await lab.Site.ConnectAsync("kamailio-3", "10.212.0.13");
        var ct = TestContext.Current.CancellationToken;
        await t.RunAsync("""
            cat > /etc/init.d/nfd-triple <<'EOF'
            #!/bin/sh
            ### BEGIN INIT INFO
            # Provides:          nfd-triple
            # Required-Start:    $remote_fs
            # Required-Stop:     $remote_fs
            # Default-Start:     2 3 4 5
            # Default-Stop:      0 1 6
            # Short-Description: test daemon
            ### END INIT INFO
            PF=/run/nfd-triple.pid
            case "$1" in
              start) start-stop-daemon --start --background --make-pidfile --pidfile $PF --exec /bin/sleep -- 100000 ;;
              stop) start-stop-daemon --stop --pidfile $PF --remove-pidfile --retry 5 || true ;;
              restart) $0 stop; $0 start ;;
              status) start-stop-daemon --status --pidfile $PF ;;
            esac
            EOF
            chmod 755 /etc/init.d/nfd-triple
            /etc/init.d/nfd-triple stop >/dev/null 2>&1; update-rc.d -f nfd-triple remove >/dev/null 2>&1; true
            """, ct);
        var spec = new ServiceSpec("nfd-triple") { Host = "kamailio-3", Name = "nfd-triple", PidFile = "/run/nfd-triple.pid" };

        var live = await TripleAsync(t, spec, StepOp.Update);
        live["active"].Should().Be("1");
        live["enabled"].Should().Be("1");

        var (before, facts) = await ReadAsync(t, spec);
        var restart = new ResourceDiff(StepOp.Update, []) { Triggers = [new StepTrigger(TriggerKind.Restart, "/etc/nfd-triple.conf changed")] };
        var after = await Providers[spec.Type].ApplyAsync(spec, restart, new HostRun(t, facts), ct);
        after["pid"].Should().NotBe(before!["pid"], "a restart replaces the process");

        await Providers[spec.Type].DeleteAsync(spec.Identity, new HostRun(t, facts), ct);
        var (gone, _) = await ReadAsync(t, spec);
        gone!["active"].Should().Be("0", "deleting a service stops it");
        gone["enabled"].Should().Be("0", "and disables it at boot");
        await t.RunAsync("rm -f /etc/init.d/nfd-triple", ct);
    }

    [Fact]
    public async Task A_read_only_path_is_a_clear_error_naming_the_host_and_the_file()
    {
        await using var t = await ConnectAsync();
        var spec = new FileSpec("/sys/nfd-test.conf", "x\n", "root", "root", "0644") { Host = Host, Name = "/sys/nfd-test.conf" };
        var (live, facts) = await ReadAsync(t, spec);
        var act = () => Providers[spec.Type].ApplyAsync(spec, Providers[spec.Type].Diff(spec, live), new HostRun(t, facts), TestContext.Current.CancellationToken);
        (await act.Should().ThrowAsync<ResourceException>()).Which.Message.Should()
            .StartWith($"host {Host}: /sys/nfd-test.conf: failed (exit 1):").And.Contain("Read-only file system");
    }

    [Fact]
    public async Task A_full_disk_is_a_clear_error_naming_the_host_and_the_file_and_the_old_file_is_kept_whole()
    {
        // /dev/shm is a 64 MB tmpfs in every container: filled up, it is a full disk for the files under it
        await using var t = await ConnectAsync();
        var ct = TestContext.Current.CancellationToken;
        const string path = "/dev/shm/nfd/app.conf";
        var old = new FileSpec(path, "version=1\n", "root", "root", "0644") { Host = Host, Name = path };
        await TripleAsync(t, old, StepOp.Create);
        try
        {
            (await t.RunAsync("dd if=/dev/zero of=/dev/shm/nfd-fill bs=1M 2>/dev/null; df --output=avail /dev/shm | tail -1", ct)).Stdout.Trim().Should().Be("0");
            var bigger = old with { Content = "version=2\n" + new string('x', 64 * 1024) + "\n" };
            var (live, facts) = await ReadAsync(t, bigger);
            var act = () => Providers[bigger.Type].ApplyAsync(bigger, Providers[bigger.Type].Diff(bigger, live), new HostRun(t, facts), ct);

            (await act.Should().ThrowAsync<ResourceException>()).Which.Message.Should()
                .StartWith($"host {Host}: {path}: failed (exit 1):").And.Contain("No space left on device");
            (await t.RunAsync($"cat {path}; ls -A /dev/shm/nfd", ct)).Stdout.Should().Be("version=1\napp.conf\n", "the old file is whole and no temp file is left");

            await t.RunAsync("rm -f /dev/shm/nfd-fill", ct);
            await TripleAsync(t, bigger, StepOp.Update);
        }
        finally
        {
            await t.RunAsync("rm -rf /dev/shm/nfd-fill /dev/shm/nfd", ct);
        }
    }
}
