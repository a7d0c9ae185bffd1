using System.Collections.Immutable;
using Deploy.Core.Model;
using Quickenshtein;

namespace Deploy.Core.Engine;

/// <summary>A <c>--target</c> that names nothing of the site (a usage error: exit 2), with the closest known name.</summary>
public sealed class UnknownTargetException(string message) : DeployException(message);

/// <summary>
/// What a run acts on (<c>--target</c>/<c>--limit</c>, Pulumi's and Ansible's words): every host, or whole hosts (named,
/// or by group or role) and single resources (by URN, on their host). A host outside it is not contacted, and its state
/// stays as it was; on a host reached only through URNs, the steps are those resources and what they trigger.
/// </summary>
public sealed record RunTargets(ImmutableHashSet<string> Hosts, ImmutableHashSet<string> Urns)
{
    public static RunTargets All { get; } = new([], []) { Everything = true };

    /// <summary>No target was given: the whole site.</summary>
    public bool Everything { get; private init; }

    /// <summary>The hosts reached only through the URNs of their resources.</summary>
    public ImmutableHashSet<string> UrnHosts => [.. Urns.Select(TargetResolver.HostOf).OfType<string>()];

    /// <summary>The run contacts this host (reads it, and may change it).</summary>
    public bool Reaches(string host) => Everything || Hosts.Contains(host) || UrnHosts.Contains(host);

    /// <summary>Every resource of the host is in the run (not only some, by URN).</summary>
    public bool Whole(string host) => Everything || Hosts.Contains(host);

    /// <summary>For messages: "kamailio-1, urn:…".</summary>
    public string Describe() => Everything
        ? "every host"
        : string.Join(", ", Hosts.Order(StringComparer.Ordinal).Concat(Urns.Order(StringComparer.Ordinal)));
}

/// <summary>
/// Turns the names given to <c>--target</c> into <see cref="RunTargets"/>: a host of the inventory, a group (inventory
/// group or role: every host in it), or a resource URN as <c>preview --json</c> prints it. Several are a union. An
/// unknown name is refused with the closest known one ("did you mean kamailio-1?").
/// </summary>
public static class TargetResolver
{
    public static RunTargets Resolve(ISiteProgram site, IReadOnlyCollection<string> names)
    {
        if (names.Count == 0) return RunTargets.All;
        var hostNames = site.Hosts.Select(h => h.Name).ToList();
        var groups = site.Hosts.SelectMany(h => h.Groups.Select(g => (Group: g, Host: h.Name)))
            .ToLookup(x => x.Group, x => x.Host, StringComparer.Ordinal);
        var hosts = ImmutableHashSet.CreateBuilder<string>(StringComparer.Ordinal);
        var urns = ImmutableHashSet.CreateBuilder<string>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            if (hostNames.Contains(name)) hosts.Add(name);
            else if (groups.Contains(name)) hosts.UnionWith(groups[name]);
            else if (name.StartsWith("urn:", StringComparison.Ordinal))
            {
                var prefix = UrnPrefix(site.Stack);
                if (!name.StartsWith(prefix, StringComparison.Ordinal))
                    throw new UnknownTargetException(
                        $"--target {name}: not a URN of stack {site.Stack} (they begin {prefix}; preview --json lists them)");
                var host = HostOf(name);
                if (host is null || !hostNames.Contains(host))
                    throw new UnknownTargetException(
                        $"--target {name}: no host '{host}' in stack {site.Stack}{Suggest(host ?? "", hostNames)}");
                urns.Add(name);
            }
            else
                throw new UnknownTargetException($"--target {name}: no host, group or role of stack {site.Stack} is called so" +
                    Suggest(name, [.. hostNames, .. groups.Select(g => g.Key)]) +
                    " (a resource is named by its URN, as preview --json prints it)");
        }
        return new RunTargets(hosts.ToImmutable(), urns.ToImmutable());
    }

    /// <summary>Refuses a URN target that names no resource of its host (planned, or recorded in the state).</summary>
    public static void RequireKnown(RunTargets targets, string host, IReadOnlyCollection<string> known)
    {
        foreach (var urn in targets.Urns.Where(u => HostOf(u) == host && !known.Contains(u)).Order(StringComparer.Ordinal))
            throw new UnknownTargetException($"--target {urn}: host {host} has no such resource{Suggest(urn, known)}");
    }

    /// <summary>The host of a resource URN (<c>urn:pulumi:&lt;stack&gt;::nf-deploy::&lt;type&gt;::&lt;host&gt;:&lt;name&gt;</c>).</summary>
    public static string? HostOf(string urn)
    {
        var last = urn.Split("::");
        if (last.Length < 4) return null;
        var hostAndName = string.Join("::", last[3..]);
        var colon = hostAndName.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 ? hostAndName[..colon] : null;
    }

    private static string UrnPrefix(string stack) => $"urn:pulumi:{stack}::nf-deploy::";

    /// <summary>" (did you mean X?)" with the known name closest to <paramref name="given"/> (the first of equals).</summary>
    public static string Suggest(string given, IEnumerable<string> known)
    {
        var closest = known.Distinct(StringComparer.Ordinal)
            .Select((name, order) => (Name: name, Distance: Levenshtein.GetDistance(given, name), Order: order))
            .OrderBy(x => x.Distance).ThenBy(x => x.Order).FirstOrDefault();
        return closest.Name is null ? "" : $" (did you mean {closest.Name}?)";
    }
}
