using System.Collections.Immutable;
using Deploy.Site.Model;

namespace Deploy.Site.Compile;

/// <summary>
/// What in a site is most likely a mistake without being an error: a var that no NF of the site declares (with the
/// closest name that one does), a setting still at a placeholder default on a site of real machines. Warnings go to
/// stderr with file:line and never fail a verb.
/// </summary>
public static class SiteWarnings
{
    /// <summary>Vars nf-deploy itself reads, whatever the NFs: rolling batches, file backups, a host's own certificate, its
    /// name.</summary>
    public static ImmutableArray<string> EngineVars { get; } =
        ["backup_keep", "rollout_batch", "rollout_max_fail", "tls_cert_file", "tls_key_file", HostnameVars.Manage, HostnameVars.Name];

    private static readonly F23.StringSimilarity.OptimalStringAlignment Distance = new();

    /// <param name="sites">Every var set by the inventory, the roles and the instance maps, where it was set. Those of an
    /// imported Ansible inventory are the playbooks' own too, so for them only a near miss of a known name is reported.</param>
    public static ImmutableArray<SiteWarning> Of(
        ProjectFile project, StackConfig config, Inventory inventory, IEnumerable<NfManifest> nfs, IEnumerable<RoleFile> roles,
        IEnumerable<VarSite> sites)
    {
        var roleList = roles.ToList();
        var known = nfs.SelectMany(n => n.Defaults.Keys)
            .Concat(roleList.SelectMany(r => r.Nfs.Select(n => n.InstancesVar).OfType<string>()))
            .Concat(EngineVars)
            .ToHashSet(StringComparer.Ordinal);
        var warnings = new List<SiteWarning>(inventory.Warnings);
        foreach (var site in sites.Distinct().Where(s => !known.Contains(s.Key)))
        {
            var closest = Closest(site.Key, known);
            if (inventory.Imported.Contains(site.File) && closest is null) continue;
            warnings.Add(new SiteWarning(site.File, site.Line, $"var '{site.Key}' is declared by no NF of the site (nor read by nf-deploy itself)" +
                (closest is null ? ": it has no effect" : $"; did you mean '{closest}'?")));
        }
        // a site of real machines that still runs on a placeholder (example.net) is about to hand it to its hosts
        if (inventory.Hosts.Any(h => h.Roles.Length > 0 && !h.Lab))
            foreach (var setting in project.Settings.Values.Where(s => s.Placeholder && !config.KeyLines.ContainsKey(s.Key)))
                warnings.Add(new SiteWarning(config.DisplayPath, 0,
                    $"setting '{setting.Key}' is still the placeholder default '{Shown(setting.Default)}' of {ProjectFile.FileName}; " +
                    $"set the site's own: ./deploy config set {setting.Key} <value> --stack {config.Stack}"));
        return [.. warnings];
    }

    /// <summary>The known name closest to a misspelt one (at most a third of its letters off, and at least one), or null.</summary>
    public static string? Closest(string name, IEnumerable<string> known)
    {
        var limit = Math.Max(2, name.Length / 3);
        return known.Select(k => (Name: k, Distance: Distance.Distance(name, k)))
            .Where(k => k.Distance <= limit)
            .OrderBy(k => k.Distance).ThenBy(k => k.Name, StringComparer.Ordinal)
            .Select(k => k.Name).FirstOrDefault();
    }

    private static string Shown(object? value) => value switch
    {
        null => "",
        IEnumerable<object?> list when value is not string => "[" + string.Join(", ", list) + "]",
        _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "",
    };
}
