using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Core.Resources;

namespace Deploy.Resources;

/// <summary>The host's name (the seed's "Set Hostname to inventory_hostname"), live and in /etc/hostname: only for hosts
/// whose inventory opts in (<c>manage_hostname: true</c>), as the inventory name or an FQDN given as <c>hostname:</c>.</summary>
public sealed class HostnameProvider : ResourceProvider<HostnameSpec>
{
    public override string Type => ResourceTypes.Hostname;

    public override string Probe(ImmutableSortedDictionary<string, string> identity) => """
        read -r h < /proc/sys/kernel/hostname; echo "hostname=$h"
        e=; [ -r /etc/hostname ] && read -r e < /etc/hostname; echo "etc=$e"
        """;

    public override LiveState? Parse(HostnameSpec desired, IReadOnlyDictionary<string, string> values, HostFacts facts) =>
        LiveState.Of(values.Where(v => v.Key is "hostname" or "etc"));

    public override ResourceDiff Diff(HostnameSpec desired, LiveState? live)
    {
        var h = desired.Hostname;
        if (live is null) return new ResourceDiff(StepOp.Create, [new PropertyChange("hostname", null, h)]);
        var changes = ImmutableArray.CreateBuilder<PropertyChange>();
        if (live["hostname"] != h) changes.Add(new PropertyChange("hostname", live["hostname"], h));
        if (live["etc"] != h) changes.Add(new PropertyChange("/etc/hostname", live["etc"], h));
        return changes.Count == 0 ? ResourceDiff.Same : new ResourceDiff(StepOp.Update, changes.ToImmutable());
    }

    public override async Task<LiveState> ApplyAsync(HostnameSpec desired, ResourceDiff diff, HostRun run, CancellationToken ct)
    {
        var h = Sh.Quote(Shapes.Ensure(desired.Hostname, Shapes.HostName(desired.Hostname)));
        var script = $"""
            echo {h} > /etc/hostname
            read -r now < /proc/sys/kernel/hostname
            if [ "$now" != {h} ]; then
              if [ -d /run/systemd/system ] && command -v hostnamectl >/dev/null; then hostnamectl set-hostname {h}; else hostname {h}; fi
            fi
            """;
        var after = await Script.RunAndProbeAsync(run, "hostname", script, Probe(desired.Identity), ct);
        return Parse(desired, after, run.Facts)!;
    }

    /// <summary>A host keeps its name when the site lets go of it.</summary>
    public override Task DeleteAsync(ImmutableSortedDictionary<string, string> identity, HostRun run, CancellationToken ct) => Task.CompletedTask;
}
