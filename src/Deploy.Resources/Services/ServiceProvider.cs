using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Core.Resources;

namespace Deploy.Resources;

/// <summary>
/// A service under systemd or sysv init, the Debian way: running (or stopped), enabled at boot (or disabled, or masked
/// under systemd), restarted when the engine says a notifying file changed, started when newly installed. Under systemd
/// the unit comes from the package or from an NF's unit file (<c>daemon-reload</c> first when one changed), the boot
/// setting is <c>systemctl is-enabled</c> read live, a restart is proven by a new start of the main process, and a start
/// that fails is reported with the unit's last journal lines. Under sysv, Debian's init.d script and its rc2.d links;
/// a restart is checked to have really replaced the process when the service has a pid file. A service that was there
/// before nf-deploy (a brownfield host) is adopted: destroy puts back its boot setting and running state as they were,
/// restarting it when it ran, so that it runs on its restored files.
/// </summary>
public sealed class ServiceProvider : ResourceProvider<ServiceSpec>, IVolatileProperties, IAdoptable
{
    public override string Type => ResourceTypes.Service;

    /// <summary>A restarted daemon has a new pid: that is no drift.</summary>
    public bool IsVolatile(string property) => property == "pid";

    public override string Probe(ImmutableSortedDictionary<string, string> identity)
    {
        var s = Sh.Quote(Name(identity["service"]));
        var pidfile = identity.TryGetValue("pidfile", out var pf) ? Sh.Quote(Shapes.Ensure(pf, Shapes.AbsolutePath(pf, "pid file"))) : "''";
        return $$"""
            s={{s}}; pf={{pidfile}}
            if [ -d /run/systemd/system ]; then
              load=$(systemctl show -p LoadState --value "$s.service")
              case "$load" in loaded|masked) echo exists=1 ;; *) echo exists=0 ;; esac
              systemctl is-active --quiet "$s.service" && echo active=1 || echo active=0
              case "$(systemctl is-enabled "$s.service" 2>/dev/null)" in
                enabled|enabled-runtime|static|alias|indirect|generated) echo enabled=1 ;; *) echo enabled=0 ;; esac
              [ "$load" = masked ] && echo masked=1 || echo masked=0
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
              echo masked=0
            fi
            """;
    }

    public override LiveState? Parse(ServiceSpec desired, IReadOnlyDictionary<string, string> values, HostFacts facts) =>
        values.GetValueOrDefault("exists") == "1"
            ? LiveState.Of(values.Where(v => v.Key is "active" or "enabled" or "pid" or "masked"))
            : null;

    public override ResourceDiff Diff(ServiceSpec desired, LiveState? live)
    {
        var s = desired;
        if (live is null)
            // a service that must not run and is not there has nothing to stop (a package installed by this run that
            // brings it is seen by the engine: it stops it after the install)
            return s.Running ? new ResourceDiff(StepOp.Create, [new PropertyChange("running", null, "yes")]) : ResourceDiff.Same;
        var changes = ImmutableArray.CreateBuilder<PropertyChange>();
        var active = live["active"] == "1";
        if (s.Running && !active) changes.Add(new PropertyChange("running", "no", "yes"));
        if (!s.Running && active) changes.Add(new PropertyChange("running", "yes", "no"));
        var masked = live["masked"] == "1";
        if (s.Masked != masked) changes.Add(new PropertyChange("masked", masked ? "yes" : "no", s.Masked ? "yes" : "no"));
        var enabled = live["enabled"] == "1";
        if (!s.Masked && s.Enabled != enabled) changes.Add(new PropertyChange("enabled", enabled ? "yes" : "no", s.Enabled ? "yes" : "no"));
        return changes.Count == 0 ? ResourceDiff.Same : new ResourceDiff(StepOp.Update, changes.ToImmutable());
    }

    public override async Task<LiveState> ApplyAsync(ServiceSpec desired, ResourceDiff diff, HostRun run, CancellationToken ct)
    {
        var s = desired;
        var after = await Script.RunAndProbeAsync(run, "service " + s.Service, ApplyScript(s, diff), Probe(s.Identity), ct);
        return Parse(s, after, run.Facts) ?? (s.Running
            ? throw new ResourceException(run.Transport.HostName, "service " + s.Service, "no such service on the host (is its package installed?)")
            : LiveState.Of([new("active", "0"), new("enabled", "0"), new("masked", "0")]));
    }

    /// <summary>The shell that brings the service where the diff says: reload units, boot setting, then start, restart or stop.</summary>
    public static string ApplyScript(ServiceSpec s, ResourceDiff diff)
    {
        var restart = s.Running && (diff.Op == StepOp.Create || diff.Has(TriggerKind.Restart));
        var start = s.Running && (restart || diff.Has("running") || diff.Has(TriggerKind.Start));
        var action = !s.Running ? (diff.Has("running") ? "stop" : "") : restart ? "restart" : start ? "start" : "";
        var boot = s.Masked ? (diff.Has("masked") ? "mask" : "")
            : diff.Has("masked") ? (s.Enabled ? "unmask enable" : "unmask")
            : s.Enabled && (diff.Op == StepOp.Create || diff.Has("enabled")) ? "enable"
            : !s.Enabled && diff.Has("enabled") ? "disable" : "";
        var reload = diff.Op == StepOp.Create || diff.Has(TriggerKind.ReloadDefinitions) ? 1 : 0;
        return $$"""
            s={{Sh.Quote(Name(s.Service))}}; pf={{Sh.Quote(s.PidFile is null ? "" : Shapes.Ensure(s.PidFile, Shapes.AbsolutePath(s.PidFile, "pid file")))}}; action={{action}}; boot='{{boot}}'; reload={{reload}}
            old=$( [ -n "$pf" ] && cat "$pf" 2>/dev/null || true)
            if [ -d /run/systemd/system ]; then
              [ "$reload" = 0 ] || systemctl daemon-reload
              # the start of the running main process: a restart must give a new one
              was=$(systemctl show -p ExecMainStartTimestampMonotonic --value "$s.service"):$(systemctl show -p MainPID --value "$s.service")
              for b in $boot; do
                case "$b" in
                  mask) systemctl stop "$s.service" 2>/dev/null || true; systemctl mask --quiet "$s.service" ;;
                  *) systemctl "$b" --quiet "$s.service" ;;
                esac
              done
              if [ -n "$action" ] && ! systemctl "$action" "$s.service" 2>/dev/null; then
                echo "$s failed to $action; the end of its journal (journalctl -u $s.service):" >&2
                journalctl -u "$s.service" -n 10 --no-pager -o short-iso >&2 || true
                exit 1
              fi
            else
              for b in $boot; do
                case "$b" in
                  enable) update-rc.d "$s" defaults >/dev/null; update-rc.d "$s" enable >/dev/null ;;
                  disable|mask) update-rc.d "$s" disable >/dev/null 2>&1 || true ;;
                esac
              done
              if [ -n "$action" ]; then "/etc/init.d/$s" "$action"; fi
            fi
            # wait (bounded) until it runs, with a new process when it was restarted; or until it is gone when stopped
            if [ -n "$action" ]; then
              i=0
              while :; do
                if [ "$action" = stop ]; then
                  if [ -d /run/systemd/system ]; then systemctl is-active --quiet "$s.service" || break
                  elif [ -n "$pf" ]; then pid=$(cat "$pf" 2>/dev/null || true); { [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; } || break
                  else "/etc/init.d/$s" status >/dev/null 2>&1 || break
                  fi
                elif [ -d /run/systemd/system ]; then
                  # systemd knows the main process (a unit need not write the pid file an init.d script does)
                  now=$(systemctl show -p ExecMainStartTimestampMonotonic --value "$s.service"):$(systemctl show -p MainPID --value "$s.service")
                  if systemctl is-active --quiet "$s.service" && { [ "$action" = start ] || [ "$now" != "$was" ]; }; then break; fi
                elif [ -n "$pf" ]; then
                  pid=$(cat "$pf" 2>/dev/null || true)
                  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && { [ "$action" = start ] || [ "$pid" != "$old" ]; }; then break; fi
                else "/etc/init.d/$s" status >/dev/null 2>&1 && break
                fi
                i=$((i+1))
                if [ $i -ge 50 ]; then
                  echo "$s did not come up after $action (pid file: ${pf:-none}, old pid: ${old:-none})" >&2
                  if [ -d /run/systemd/system ]; then journalctl -u "$s.service" -n 10 --no-pager -o short-iso >&2 || true; fi
                  exit 1
                fi
                sleep 0.2
              done
            fi
            """;
    }

    public override Task DeleteAsync(ImmutableSortedDictionary<string, string> identity, HostRun run, CancellationToken ct)
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

    public bool Existed(LiveState live) => true;

    public Task KeepOriginalAsync(ResourceSpec desired, HostRun run, CancellationToken ct) => Task.CompletedTask;

    public Task ReleaseAsync(ImmutableSortedDictionary<string, string> identity, ImmutableSortedDictionary<string, string> original,
        HostRun run, CancellationToken ct)
    {
        var (spec, diff) = AsItWas(identity, original);
        return Script.RunAsync(run, "service " + spec.Service, ApplyScript(spec, diff), ct);
    }

    /// <summary>The service as the host had it when it was adopted, and the step that brings it back: its boot setting,
    /// then a restart when it ran (on the files restored before it) or a stop.</summary>
    public static (ServiceSpec Spec, ResourceDiff Diff) AsItWas(ImmutableSortedDictionary<string, string> identity,
        ImmutableSortedDictionary<string, string> original)
    {
        var running = original.GetValueOrDefault("active") == "1";
        var spec = new ServiceSpec(identity["service"])
        {
            Host = "",
            Name = identity["service"],
            PidFile = identity.GetValueOrDefault("pidfile"),
            Running = running,
            Enabled = original.GetValueOrDefault("enabled") == "1",
            Masked = original.GetValueOrDefault("masked") == "1",
        };
        PropertyChange boot = spec.Masked || spec.Enabled ? new("masked", null, spec.Masked ? "yes" : "no") : new("enabled", null, "no");
        var diff = new ResourceDiff(StepOp.Update, running ? [boot] : [boot, new PropertyChange("running", null, "no")])
        {
            Triggers = running ? [new StepTrigger(TriggerKind.Restart, "adopted: handed back on its original files")] : [],
        };
        return (spec, diff);
    }

    private static string Name(string service) => Shapes.Ensure(service, Shapes.ServiceName(service));
}
