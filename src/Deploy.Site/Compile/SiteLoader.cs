using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Site.Model;
using Deploy.Site.Templates;

namespace Deploy.Site.Compile;

/// <summary>Loads a site (Pulumi.yaml, the stack file, its inventory, roles and NFs) and compiles it. Any error in the
/// site files is found here, with file and line, before a host is contacted.</summary>
public static class SiteLoader
{
    /// <summary>A name that can be part of a service name (an init script, a systemd instance) and a path.</summary>
    private static readonly System.Text.RegularExpressions.Regex InstanceName = new("^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$");

    /// <summary>
    /// One placement per entry of the role's instances var (a map: instance name → vars overlaying the host's vars).
    /// Errors name where the map was written (inventory, role or NF defaults) when it came from a site file.
    /// </summary>
    private static IEnumerable<NfPlacement> Instances(InventoryHost host, RoleFile role, RoleNf rn, NfManifest nf, ImmutableSortedDictionary<string, object?> vars,
        ICollection<VarSite> sites)
    {
        var value = vars.GetValueOrDefault(rn.InstancesVar!);
        if (value is null)
            throw new SiteException(role.File, rn.Line, $"NF '{nf.Name}' runs one instance per entry of var '{rn.InstancesVar}', which host {host.Name} does not set");
        if (value is not Dictionary<string, object?> map)
            throw new SiteException(role.File, rn.Line, $"var '{rn.InstancesVar}' must map instance names to their vars (host {host.Name})");
        foreach (var (name, overlay) in map)
        {
            var at = Yaml.YamlFile.OriginOf(map, name) ?? (role.File, rn.Line);
            if (!InstanceName.IsMatch(name))
                throw new SiteException(at.File, at.Line, $"instance name '{name}' of NF '{nf.Name}' is not a valid service name (letters, digits, '-' and '_', starting with a letter or digit, at most 48)", host.Name);
            var own = overlay switch
            {
                null => new Dictionary<string, object?>(StringComparer.Ordinal),
                Dictionary<string, object?> d => d,
                _ => throw new SiteException(at.File, at.Line, $"instance '{name}' of NF '{nf.Name}' must be a mapping of vars", host.Name),
            };
            foreach (var key in own.Keys)
                if (Yaml.YamlFile.OriginOf(own, key) is { } origin) sites.Add(new VarSite(key, origin.File, origin.Line));
            yield return new NfPlacement(nf, role, vars.SetItems(own))
            {
                Instance = name,
                InstanceVars = own.ToImmutableSortedDictionary(StringComparer.Ordinal),
                InstanceOrigin = Yaml.YamlFile.OriginOf(own) ?? at,
            };
        }
    }

    /// <summary>A path setting (a CA of your own): inside the project, or refused at its line of the stack file.</summary>
    private static string? ProjectPath(string projectDir, StackConfig config, string key) =>
        config.Values.GetValueOrDefault(key) is string { Length: > 0 } p
            ? Deploy.Core.Paths.ContainedPath.Require(projectDir, p, $"setting '{key}': path", "the project", config.DisplayPath, config.KeyLines.GetValueOrDefault(key))
            : null;

    /// <param name="onSecrets">Told the secret settings' values as soon as they are decrypted, before they are used.</param>
    /// <param name="labKey">Given the private key path lab hosts are reached with, returns the public key line to
    /// install on them (making the pair when missing). Called only when the site has lab hosts.</param>
    /// <param name="keyCache">Keeps the passphrase's derived key between runs (the user's SSH broker), when given.</param>
    /// <param name="onInventory">Told the inventory as soon as it is read (before the rest of the site is checked): what
    /// the caller may look up meanwhile without contacting a host (which lab hosts run).</param>
    public static async Task<SiteProgram> LoadAsync(string projectDir, string stack, IKeyFetcher keys, Func<string, CancellationToken, Task<string>>? labKey, CancellationToken ct,
        Func<string?>? passphrase = null, Action<System.Collections.Immutable.ImmutableArray<string>>? onSecrets = null,
        TimeProvider? time = null, Deploy.Core.Engine.RunMetrics? metrics = null, Action<Inventory>? onInventory = null,
        Deploy.Core.Secrets.IDerivedKeyCache? keyCache = null)
    {
        metrics ??= new Deploy.Core.Engine.RunMetrics();
        using var siteTiming = metrics.Time("site");
        var filesTiming = metrics.Time("site.files");
        var project = ProjectFile.Load(projectDir);
        var raw = StackConfig.Load(projectDir, project, stack);
        // The passphrase's key derivation (PBKDF2, a million rounds, as Pulumi) runs while the rest of the site is read:
        // inventory, roles and NFs need no secret.
        var phrase = raw.HasSecrets ? (passphrase ?? Secrets.PassphraseCrypter.PassphraseFromEnvironment)() : null;
        var decrypting = raw.HasSecrets ? Task.Run(async () =>
        {
            using (metrics.Time("site.secrets")) return await raw.DecryptedAsync(phrase, keyCache, ct);
        }, ct) : Task.FromResult(raw);
        var config = raw;
        var templates = new TemplateEngine(projectDir);
        var inventoryName = config.Values.GetValueOrDefault("inventory") as string is { Length: > 0 } inv ? inv : stack;
        if (!SiteNames.IsValid(inventoryName))
            throw new SiteException(config.DisplayPath, config.KeyLines.GetValueOrDefault("inventory"), $"'{SiteNames.Printable(inventoryName)}' is not a valid inventory name ({SiteNames.Shape})");
        var inventory = Inventory.Load(projectDir, inventoryName, config, templates, ct);
        onInventory?.Invoke(inventory);

        filesTiming.Dispose();
        List<SiteException> errors;
        using (metrics.Time("site.templates")) errors = [.. templates.CheckSyntax()];
        filesTiming = metrics.Time("site.files");
        var roles = new Dictionary<string, RoleFile>(StringComparer.Ordinal);
        var nfs = new Dictionary<string, NfManifest>(StringComparer.Ordinal);
        var placements = ImmutableDictionary.CreateBuilder<string, ImmutableArray<NfPlacement>>();
        var instanceSites = new List<VarSite>();
        foreach (var host in inventory.Hosts)
        {
            ct.ThrowIfCancellationRequested();
            var list = new List<NfPlacement>();
            foreach (var rr in host.Roles)
            {
                try
                {
                    if (!roles.TryGetValue(rr.Role, out var role)) roles[rr.Role] = role = RoleFile.Load(projectDir, rr);
                    foreach (var rn in role.Nfs)
                    {
                        var (nfName, line) = rn;
                        if (!nfs.TryGetValue(nfName, out var nf)) nfs[nfName] = nf = NfManifest.Load(projectDir, nfName, role.File, line);
                        var vars = nf.Defaults.SetItems(role.Vars).SetItems(host.Vars);
                        if (rn.InstancesVar is null)
                        {
                            if (list.Any(p => p.Nf.Name == nfName && p.Instance is null)) continue;
                            list.Add(new NfPlacement(nf, role, vars));
                            continue;
                        }
                        foreach (var placement in Instances(host, role, rn, nf, vars, instanceSites))
                            if (!list.Any(p => p.Id == placement.Id)) list.Add(placement);
                    }
                }
                catch (SiteException e) { errors.Add(e); }
            }
            placements[host.Name] = [.. list];
        }
        // a file may notify a service of another NF on the same host (a P-GW restarts when its Diameter config changes)
        var services = nfs.Values.SelectMany(n => n.Services.Select(s => s.Name.Text)).ToHashSet();
        foreach (var nf in nfs.Values)
            foreach (var f in nf.Files)
                foreach (var n in f.Notify.Select(n => n.Text).Where(n => !n.Contains("{{", StringComparison.Ordinal) && !services.Contains(n)))
                    errors.Add(new SiteException(nf.File, f.Line, $"file notifies service '{n}', which no NF of the site declares under services:"));
        if (errors.Count > 0) throw new SiteErrors(errors.DistinctBy(e => e.Message).ToList());
        filesTiming.Dispose();
        var warnings = SiteWarnings.Of(project, config, inventory, nfs.Values, roles.Values,
            inventory.VarSites.Concat(roles.Values.SelectMany(r => r.VarSites)).Concat(instanceSites));

        // apt keys are fetched on the controller once per run (and cached): hosts may be air-gapped
        var fetched = ImmutableDictionary.CreateBuilder<string, string>();
        config = await decrypting;
        // from here on, any output (an error fetching a key whose URL holds a token included) masks the secrets
        onSecrets?.Invoke(config.SecretValues);
        using var keysTiming = metrics.Time("site.keys");
        var configScope = new Scriban.Runtime.ScriptObject { ["config"] = TemplateEngine.ToScript(config.Values) };
        foreach (var nf in nfs.Values)
            foreach (var k in nf.Keys)
            {
                // https://, a file of the project, or http:// pinned by a fingerprint; the fingerprint is checked on every load
                var given = k.Url is null ? k.SourceFile! : templates.RenderInline(k.Url.Text, configScope, nf.File, k.Url.Line, null).Trim();
                var fingerprint = k.Fingerprint is null ? null : templates.RenderInline(k.Fingerprint.Text, configScope, nf.File, k.Fingerprint.Line, null).Trim() is { Length: > 0 } f ? f : null;
                var (url, problem) = KeySource.Resolve(projectDir, given, fingerprint);
                // a URL that holds a secret (a token in it) is never shown, not even with its user and password masked
                // (and a key file of the project is named relative to it)
                string Masked(string m) => (config.SecretValues.Any(v => given.Contains(v, StringComparison.Ordinal))
                    ? m.Replace(KeySource.Shown(url ?? given), "[secret]", StringComparison.Ordinal).Replace(KeySource.Shown(given), "[secret]", StringComparison.Ordinal)
                    : m).Replace($"file://{projectDir}/", "", StringComparison.Ordinal).Replace(projectDir + "/", "", StringComparison.Ordinal);
                if (problem is not null) throw new SiteException(nf.File, k.Url?.Line ?? k.Line, Masked($"apt key '{k.Name}': {problem}"));
                try { fetched[SiteProgram.KeyId(nf, k)] = await keys.FetchAsync(url!, text => KeySource.Verify(text, url!, fingerprint), ct); }
                catch (DeployException e) { throw new SiteException(nf.File, k.Line, Masked(e.Message)); }
            }

        string? authorized = null;
        var firstLab = inventory.Hosts.FirstOrDefault(h => h.Lab && h.Roles.Length > 0);
        if (firstLab is not null && labKey is not null)
            authorized = await labKey(SiteProgram.KeyPath(projectDir, firstLab.Key), ct);
        // the site CA: the user's (settings tlsCaCert/tlsCaKey) or one made for the stack, on first use
        // (read here, written only by `up`: certificates are resources of the plan)
        var caCert = ProjectPath(projectDir, config, "tlsCaCert");
        var caKey = ProjectPath(projectDir, config, "tlsCaKey");
        Pki.ICertificateSource Certificates(Pki.CertificatePolicy policy) => new Pki.SiteCertificates(
            Path.Combine(projectDir, ".nf-deploy", "pki", stack), stack, time ?? TimeProvider.System, caCert, caKey, policy);
        return new SiteProgram(projectDir, project, config, inventory, placements.ToImmutable(), fetched.ToImmutable(), templates, authorized, Certificates)
        {
            Warnings = warnings,
        };
    }
}
