using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Site.Model;
using Deploy.Site.Templates;

namespace Deploy.Site.Compile;

/// <summary>Loads a site (Pulumi.yaml, the stack file, its inventory, roles and NFs) and compiles it. Any error in the
/// site files is found here, with file and line, before a host is contacted.</summary>
public static class SiteLoader
{
    /// <param name="labKey">Given the private key path lab hosts are reached with, returns the public key line to
    /// install on them (making the pair when missing). Called only when the site has lab hosts.</param>
    public static async Task<SiteProgram> LoadAsync(string projectDir, string stack, IKeyFetcher keys, Func<string, CancellationToken, Task<string>>? labKey, CancellationToken ct)
    {
        var project = ProjectFile.Load(projectDir);
        var config = StackConfig.Load(projectDir, project, stack).Decrypted(Secrets.PassphraseCrypter.PassphraseFromEnvironment());
        var templates = new TemplateEngine(projectDir);
        var inventoryName = config.Values.GetValueOrDefault("inventory") as string is { Length: > 0 } inv ? inv : stack;
        var inventory = Inventory.Load(projectDir, inventoryName, config, templates);

        var errors = new List<SiteException>();
        var roles = new Dictionary<string, RoleFile>(StringComparer.Ordinal);
        var nfs = new Dictionary<string, NfManifest>(StringComparer.Ordinal);
        var placements = ImmutableDictionary.CreateBuilder<string, ImmutableArray<NfPlacement>>();
        foreach (var host in inventory.Hosts)
        {
            var list = new List<NfPlacement>();
            foreach (var rr in host.Roles)
            {
                try
                {
                    if (!roles.TryGetValue(rr.Role, out var role)) roles[rr.Role] = role = RoleFile.Load(projectDir, rr);
                    foreach (var (nfName, line) in role.Nfs)
                    {
                        if (!nfs.TryGetValue(nfName, out var nf)) nfs[nfName] = nf = NfManifest.Load(projectDir, nfName, role.File, line);
                        if (list.Any(p => p.Nf.Name == nfName)) continue;
                        var vars = nf.Defaults.SetItems(role.Vars).SetItems(host.Vars);
                        list.Add(new NfPlacement(nf, role, vars));
                    }
                }
                catch (SiteException e) { errors.Add(e); }
            }
            placements[host.Name] = [.. list];
        }
        // a file may notify a service of another NF on the same host (a P-GW restarts when its Diameter config changes)
        var services = nfs.Values.SelectMany(n => n.Services.Select(s => s.Name)).ToHashSet();
        foreach (var nf in nfs.Values)
            foreach (var f in nf.Files)
                foreach (var n in f.Notify.Where(n => !services.Contains(n)))
                    errors.Add(new SiteException(nf.File, f.Line, $"file notifies service '{n}', which no NF of the site declares under services:"));
        if (errors.Count > 0) throw new SiteErrors(errors.DistinctBy(e => e.Message).ToList());

        // apt keys are fetched on the controller once per run (and cached): hosts may be air-gapped
        var fetched = ImmutableDictionary.CreateBuilder<string, string>();
        var configScope = new Scriban.Runtime.ScriptObject { ["config"] = TemplateEngine.ToScript(config.Values) };
        foreach (var nf in nfs.Values)
            foreach (var k in nf.Keys.Where(k => k.Url is not null))
            {
                var url = templates.RenderInline(k.Url!.Text, configScope, nf.File, k.Url.Line, null).Trim();
                try { fetched[SiteProgram.KeyId(nf, k)] = await keys.FetchAsync(url, ct); }
                catch (DeployException e) { throw new SiteException(nf.File, k.Line, e.Message); }
            }

        string? authorized = null;
        var firstLab = inventory.Hosts.FirstOrDefault(h => h.Lab && h.Roles.Length > 0);
        if (firstLab is not null && labKey is not null)
            authorized = await labKey(SiteProgram.KeyPath(projectDir, firstLab.Key), ct);
        // the site CA: the user's (settings tlsCaCert/tlsCaKey) or one made for the stack, on first use
        Pki.ICertificateSource Certificates() => new Pki.SiteCertificates(
            Path.Combine(projectDir, ".nf-deploy", "pki", stack), stack, TimeProvider.System,
            config.Values.GetValueOrDefault("tlsCaCert") is string { Length: > 0 } c ? Path.GetFullPath(Path.Combine(projectDir, c)) : null,
            config.Values.GetValueOrDefault("tlsCaKey") is string { Length: > 0 } k ? Path.GetFullPath(Path.Combine(projectDir, k)) : null);
        return new SiteProgram(projectDir, project, config, inventory, placements.ToImmutable(), fetched.ToImmutable(), templates, authorized, Certificates);
    }
}
