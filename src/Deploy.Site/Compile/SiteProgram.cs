// SiteProgram, the site compiler, in rooms (one partial class):
//   SiteProgram.cs              entry: the NF placement, fields, constructor (host targets, lab spec), Materialize
//   SiteProgram.Resources.cs    one host's resources and health checks from its NFs, port clash checks
//   SiteProgram.Sql.cs          an NF's database resources (schemas, users, rows)
//   SiteProgram.Scope.cs        the template scope: host objects, instances, groups, template functions
//   SiteProgram.Identity.cs     the names NFs declare (identity:): each host's identity, the deployer's TLS identity
//   SiteProgram.Certificates.cs host certificates (inventory or site CA) as planned resources, --replace

using System.Collections.Immutable;
using System.Globalization;
using Deploy.Core.Engine;
using Deploy.Core.Lab;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Core.Transport;
using Deploy.Site.Model;
using Deploy.Site.Templates;
using Scriban.Runtime;

namespace Deploy.Site.Compile;

/// <summary>One NF on one host, with the vars it sees (NF defaults &lt; role vars &lt; inventory vars &lt; the instance's
/// own vars). An NF a role runs with <c>instances:</c> is placed once per instance.</summary>
public sealed record NfPlacement(NfManifest Nf, RoleFile Role, ImmutableSortedDictionary<string, object?> Vars)
{
    /// <summary>The instance's name when the NF runs as several instances on the host.</summary>
    public string? Instance { get; init; }

    /// <summary>The instance's own vars (they overlay <see cref="Vars"/>); templates see them, and its name, as
    /// <c>instance.*</c>.</summary>
    public ImmutableSortedDictionary<string, object?> InstanceVars { get; init; } = ImmutableSortedDictionary<string, object?>.Empty;

    /// <summary>Where the instance was declared (for errors about it).</summary>
    public (string File, int Line)? InstanceOrigin { get; init; }

    /// <summary>The NF, or NF@instance: declares resources, names health checks, keys <c>host.nf</c>.</summary>
    public string Id => Instance is null ? Nf.Name : $"{Nf.Name}@{Instance}";

    /// <summary>For messages: "NF 'kamailio'" or "instance 'pcscf' of NF 'kamailio-instance'".</summary>
    public string Describe() => Instance is null ? $"NF '{Nf.Name}'" : $"instance '{Instance}' of NF '{Nf.Name}'";
}

/// <summary>
/// A loaded site compiled into per-host NF placements. <see cref="Materialize"/> renders every host's resources
/// from facts: first each host's per-NF values (listen IPs, identities...), then the resources, which may look at
/// other hosts' values (a PCRF's peers, a DMQ cluster's members).
/// </summary>
public sealed partial class SiteProgram : ISiteProgram
{
    private readonly TemplateEngine _templates;
    private readonly ImmutableDictionary<string, string> _keys;
    private readonly Lazy<Pki.ICertificateSource> _certificates;

    public SiteProgram(
        string projectDir,
        ProjectFile project,
        StackConfig config,
        Inventory inventory,
        ImmutableDictionary<string, ImmutableArray<NfPlacement>> placements,
        ImmutableDictionary<string, string> fetchedKeys,
        TemplateEngine templates,
        string? labAuthorizedKey,
        Func<Pki.CertificatePolicy, Pki.ICertificateSource> certificates)
    {
        _certificates = new Lazy<Pki.ICertificateSource>(() => certificates(CertificatePolicy));
        ProjectDir = projectDir;
        Project = project;
        Config = config;
        CertificatePolicy = PolicyOf(config);
        Inventory = inventory;
        Placements = placements;
        _keys = fetchedKeys;
        _templates = templates;
        Managed = [.. inventory.Hosts.Where(h => h.Roles.Length > 0)];
        var sshConfig = Managed.Any(h => !h.Lab) ? SshConfigFile.LoadDefault() : SshConfigFile.Empty;
        Hosts = [.. Managed.Select(h => new HostTarget(h.Name, SshRoutes.Connection(projectDir, h, sshConfig),
            h.Lab
                ? new LabHostSpec(h.Name, h.Address, h.User, h.LabOptions?.Devices ?? [], h.LabOptions?.Capabilities ?? [])
                {
                    Init = h.LabInit,
                }
                : null,
            KnownWithoutAsking(h))
        {
            // rolling batches per inventory group: rollout_batch ("1", "50%"), rollout_max_fail (percent of the group)
            Rollout = new RolloutPolicy(h.Groups.FirstOrDefault() ?? h.Name,
                Convert.ToString(h.Vars.GetValueOrDefault("rollout_batch") ?? "1", CultureInfo.InvariantCulture) ?? "1",
                h.Vars.GetValueOrDefault("rollout_max_fail") is long max ? (int)max : 0),
            Groups = [.. h.Groups.Concat(h.Roles.Select(r => r.Role)).Distinct()],
        })];
        if (inventory.Lab is { } lab && Managed.Any(h => h.Lab))
            Lab = new LabSpec(config.Stack, lab.Network, lab.Subnet, lab.Gateway, lab.Image, lab.AptProxy,
                labAuthorizedKey ?? "",
                [.. Hosts.Where(h => h.Lab is not null).Select(h => h.Lab!)]);
    }

    public string ProjectDir { get; }

    /// <summary>What in the site files is most likely a mistake but does not stop it (see <see cref="SiteWarnings"/>).</summary>
    public ImmutableArray<SiteWarning> Warnings { get; init; } = [];
    public ProjectFile Project { get; }
    public StackConfig Config { get; }
    public Inventory Inventory { get; }
    public ImmutableDictionary<string, ImmutableArray<NfPlacement>> Placements { get; }

    /// <summary>Hosts with at least one role (a bastion, say, is in the inventory but runs nothing).</summary>
    public ImmutableArray<InventoryHost> Managed { get; }

    public string Stack => Config.Stack;
    public LabSpec? Lab { get; }
    public ImmutableArray<HostTarget> Hosts { get; }

    /// <summary>A host's facts known without asking it: declared in the inventory, or a lab host's (which this program
    /// makes); null for a machine that must be read.</summary>
    private static HostFacts? KnownWithoutAsking(InventoryHost h) =>
        h.Facts ?? (h.Lab ? HostFacts.Assumed(h.Name, h.Address, init: h.LabInit) : null);

    /// <summary>A key path of the inventory: <c>~/</c> is the user's home, relative paths are the project's.</summary>
    public static string KeyPath(string projectDir, string key) => key.StartsWith("~/", StringComparison.Ordinal)
        ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), key[2..])
        : Path.GetFullPath(Path.Combine(projectDir, key));

    public ImmutableArray<HostDesired> Materialize(IReadOnlyDictionary<string, HostFacts> facts, CancellationToken ct)
    {
        var errors = new List<SiteException>();
        _certificateResources.Clear();
        var configObj = TemplateEngine.FromDictionary(Config.Values.Select(kv => new KeyValuePair<string, object?>(kv.Key, kv.Value)));
        var hostObjs = new Dictionary<string, ScriptObject>(StringComparer.Ordinal);
        // Hosts are the Managed hosts' targets, in the same order
        foreach (var (h, target) in Managed.Zip(Hosts))
            hostObjs[h.Name] = HostObject(h, target.FactsOrAssumed(facts.GetValueOrDefault(h.Name)));
        // the names NFs give their hosts and the deployer, before anything is rendered with them
        DeclareIdentities(hostObjs, configObj, errors);

        // phase 1: per-host NF values
        foreach (var h in Managed)
        {
            ct.ThrowIfCancellationRequested();
            var nfs = (ScriptObject)hostObjs[h.Name]["nf"]!;
            foreach (var p in Placements[h.Name])
            {
                try
                {
                    var nfObj = new ScriptObject();
                    nfs[p.Id] = nfObj;
                    var scope = Scope(h, hostObjs, configObj, p, nfObj);
                    foreach (var (name, expr) in p.Nf.Values)
                        nfObj[name] = _templates.RenderInline(expr.Text, scope, p.Nf.File, expr.Line, h.Name).Trim();
                }
                catch (SiteException e) { errors.Add(e); }
            }
        }
        if (errors.Count > 0) throw new SiteErrors(errors);

        // phase 2: resources
        var result = ImmutableArray.CreateBuilder<HostDesired>();
        foreach (var h in Managed)
        {
            ct.ThrowIfCancellationRequested();
            try { result.Add(RenderHost(h, hostObjs, configObj)); }
            catch (SiteException e) { errors.Add(e); }
            catch (SiteErrors e) { errors.AddRange(e.Errors); }
        }
        if (errors.Count > 0) throw new SiteErrors(errors);
        return result.ToImmutable();
    }
}
