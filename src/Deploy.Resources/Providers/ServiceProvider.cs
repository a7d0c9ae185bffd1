using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Core.Resources;

namespace Deploy.Resources.Providers;

/// <summary>
/// A service under systemd or sysv init (containers run Debian's init.d scripts; real hosts run systemd): running,
/// enabled at boot, restarted when the engine says a notifying file changed, started when newly installed.
/// A restart is checked to have really replaced the process when the service has a pid file
/// (an init.d script that cannot see the old process "restarts" nothing).
/// </summary>
public sealed class ServiceProvider : IResourceProvider
{
    public string Type => ResourceTypes.Service;

    public string Probe(ImmutableSortedDictionary<string, string> identity)
    {
        var s = Sh.Quote(Name(identity["service"]));
        var pidfile = identity.TryGetValue("pidfile", out var pf) ? Sh.Quote(Shapes.Ensure(pf, Shapes.AbsolutePath(pf, "pid file"))) : "''";
        return $$"""
            s={{s}}; pf={{pidfile}}
            if [ -d /run/systemd/system ]; then
              [ "$(systemctl show -p LoadState --value "$s.service")" = loaded ] && echo exists=1 || echo exists=0
              systemctl is-active --quiet "$s.service" && echo active=1 || echo active=0
              systemctl is-enabled --quiet "$s.service" && echo enabled=1 || echo enabled=0
              echo "pid=$(systemctl show -p MainPID --value "$s.service")"
            else
              [ -x "/etc/init.d/$s" ] && echo exists=1 || echo exists=0
              if [ -n "$pf" ]; then
                pid=; [ -r "$pf" ] && read -r pid < "$pf"
                if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo active=1; echo "pid=$pid"; else echo active=0; fi
              else
                "/etc/init.d/$s" status >/dev/null 2>&1 && echo active=1 || echo active=0
              fi
              set -- /etc/rc2.d/S[0-9][0-9]"$s"; [ -e "$1" ] && echo enabled=1 || echo enabled=0
            fi
            """;
    }

    public LiveState? Parse(ResourceSpec desired, IReadOnlyDictionary<string, string> values, HostFacts facts) =>
        values.GetValueOrDefault("exists") == "1"
            ? LiveState.Of(values.Where(v => v.Key is "active" or "enabled" or "pid"))
            : null;

    public ResourceDiff Diff(ResourceSpec desired, LiveState? live)
    {
        var s = (ServiceSpec)desired;
        if (live is null) return new ResourceDiff(StepOp.Create, [new PropertyChange("running", null, "yes")]);
        var changes = ImmutableArray.CreateBuilder<PropertyChange>();
        if (s.Running && live["active"] != "1") changes.Add(new PropertyChange("running", "no", "yes"));
        if (s.Enabled && live["enabled"] != "1") changes.Add(new PropertyChange("enabled", "no", "yes"));
        return changes.Count == 0 ? ResourceDiff.Same : new ResourceDiff(StepOp.Update, changes.ToImmutable());
    }

    public async Task<LiveState> ApplyAsync(ResourceSpec desired, ResourceDiff diff, HostRun run, CancellationToken ct)
    {
        var s = (ServiceSpec)desired;
        var restart = diff.Op == StepOp.Create || diff.Has("restart");
        var start = restart || diff.Has("running") || diff.Has("start");
        var action = restart ? "restart" : start ? "start" : "";
        var enable = s.Enabled && (diff.Op == StepOp.Create || diff.Has("enabled"));
        var script = $$"""
            s={{Sh.Quote(Name(s.Service))}}; pf={{Sh.Quote(s.PidFile is null ? "" : Shapes.Ensure(s.PidFile, Shapes.AbsolutePath(s.PidFile, "pid file")))}}; action={{action}}
            old=$( [ -n "$pf" ] && cat "$pf" 2>/dev/null || true)
            if [ -d /run/systemd/system ]; then
              systemctl daemon-reload
              {{(enable ? "systemctl enable --quiet \"$s.service\"" : ":")}}
              if [ -n "$action" ]; then systemctl "$action" "$s.service"; fi
            else
              {{(enable ? "update-rc.d \"$s\" defaults >/dev/null" : ":")}}
              if [ -n "$action" ]; then "/etc/init.d/$s" "$action"; fi
            fi
            # wait (bounded) until it runs, with a new process when it was restarted
            if [ -n "$action" ]; then
              i=0
              while :; do
                if [ -n "$pf" ]; then
                  pid=$(cat "$pf" 2>/dev/null || true)
                  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && { [ "$action" = start ] || [ "$pid" != "$old" ]; }; then break; fi
                elif [ -d /run/systemd/system ]; then systemctl is-active --quiet "$s.service" && break
                else "/etc/init.d/$s" status >/dev/null 2>&1 && break
                fi
                i=$((i+1)); if [ $i -ge 50 ]; then echo "$s did not come up after $action (pid file: ${pf:-none}, old pid: ${old:-none})" >&2; exit 1; fi
                sleep 0.2
              done
            fi
            """;
        var after = await Script.RunAndProbeAsync(run, "service " + s.Service, script, Probe(s.Identity), ct);
        return Parse(s, after, run.Facts)
            ?? throw new ResourceException(run.Transport.HostName, "service " + s.Service, "no such service on the host (is its package installed?)");
    }

    public Task DeleteAsync(ImmutableSortedDictionary<string, string> identity, HostRun run, CancellationToken ct)
    {
        var s = Sh.Quote(Name(identity["service"]));
        return Script.RunAsync(run, "service " + identity["service"], $$"""
            s={{s}}
            if [ -d /run/systemd/system ]; then
              systemctl disable --now "$s.service" 2>/dev/null || true
            elif [ -x "/etc/init.d/$s" ]; then
              "/etc/init.d/$s" stop || true
              update-rc.d -f "$s" remove >/dev/null 2>&1 || true
            fi
            """, ct);
    }

    /// <summary>A service name of a checked shape (it becomes a path under /etc/init.d and a unit name).</summary>
    private static string Name(string service) => Shapes.Ensure(service, Shapes.ServiceName(service));
}
