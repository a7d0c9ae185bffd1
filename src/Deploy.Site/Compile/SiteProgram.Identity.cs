using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Site.Model;
using Deploy.Site.Templates;
using Scriban.Runtime;

namespace Deploy.Site.Compile;

/// <summary>
/// The names NFs give (<c>identity:</c> of their nf.yaml): each host's identity (<c>host.identity</c>, its certificate's
/// name) and the deployer's own (<c>deployer_tls</c>). The compiler knows no NF's naming rules; it renders what the NFs
/// declare and holds them to one name per host and one for the deployer.
/// </summary>
public sealed partial class SiteProgram
{
    /// <summary>The name of the deployer's own certificate in the site's PKI.</summary>
    private const string DeployerPkiName = "nf-deploy";

    /// <summary>Where each host's identity was declared, for errors about it; a host no NF names is not here.</summary>
    private readonly Dictionary<string, string> _identityOrigins = new(StringComparer.Ordinal);

    /// <summary>The deployer's identity, by the NF that declares it (every NF that does declares the same).</summary>
    private readonly Dictionary<string, string> _deployerIdentities = new(StringComparer.Ordinal);

    /// <summary>Sets <c>host.identity</c> on every host object (what its NFs declare, else the host's name) and reads the
    /// deployer's identity. Problems are added to <paramref name="errors"/>.</summary>
    private void DeclareIdentities(Dictionary<string, ScriptObject> hostObjs, ScriptObject configObj, List<SiteException> errors)
    {
        _identityOrigins.Clear();
        _deployerIdentities.Clear();
        DeclareDeployerIdentity(configObj, errors);
        foreach (var host in Managed)
        {
            var me = hostObjs[host.Name];
            string? declared = null;
            foreach (var placement in Placements[host.Name].Where(pl => pl.Nf.Identity?.Host is not null))
            {
                var text = placement.Nf.Identity!.Host!;
                var scope = new ScriptObject
                {
                    ["host"] = me,
                    ["config"] = configObj,
                    ["vars"] = TemplateEngine.FromDictionary(placement.Vars),
                    ["instance"] = placement.Instance is null ? null : Instance(placement),
                };
                try
                {
                    var identity = DeclaredName(text, scope, placement.Nf.File, host.Name, "the host's identity");
                    var origin = $"identity.host of {placement.Describe()}, {placement.Nf.File}:{text.Line}";
                    if (declared is not null && declared != identity)
                        throw new SiteException(placement.Nf.File, text.Line,
                            $"the host's identity is '{identity}' here but '{declared}' by {_identityOrigins[host.Name]}: " +
                            "a host has one identity (the name on its certificate)", host.Name);
                    if (declared is null) _identityOrigins[host.Name] = origin;
                    declared = identity;
                }
                catch (SiteException e)
                {
                    // one error per host: the instances of one NF would repeat it
                    errors.Add(e);
                    break;
                }
            }
            me["identity"] = declared ?? host.Name;
        }
    }

    /// <summary>The deployer's identity as each NF of the site declares it: one value, or an error at the NF that differs.</summary>
    private void DeclareDeployerIdentity(ScriptObject configObj, List<SiteException> errors)
    {
        var scope = new ScriptObject { ["config"] = configObj };
        (string Identity, string Origin)? first = null;
        var declaring = Placements.Values.SelectMany(list => list).Select(pl => pl.Nf)
            .Where(nf => nf.Identity?.Deployer is not null).DistinctBy(nf => nf.Name).OrderBy(nf => nf.Name, StringComparer.Ordinal);
        foreach (var nf in declaring)
        {
            var text = nf.Identity!.Deployer!;
            try
            {
                var identity = DeclaredName(text, scope, nf.File, null, "the deployer's identity");
                if (first is { } known && known.Identity != identity)
                    throw new SiteException(nf.File, text.Line, $"the deployer's identity is '{identity}' here but '{known.Identity}' " +
                        $"for {known.Origin}: the deployer has one identity (its certificate's name) per site");
                first ??= (identity, $"NF '{nf.Name}' ({nf.File}:{text.Line})");
                _deployerIdentities[nf.Name] = identity;
            }
            catch (SiteException e) { errors.Add(e); }
        }
    }

    private string DeclaredName(Templated text, ScriptObject scope, string file, string? host, string what)
    {
        var name = _templates.RenderInline(text.Text, scope, file, text.Line, host).Trim();
        // the name goes on a certificate and into NF configs' quoted strings: a DNS name, nothing that could close a quote
        var problem = name.Length == 0 ? $"{what} renders empty" : Shapes.NoControl(name, what) ?? Shapes.DnsName(name, what);
        return problem is null ? name : throw new SiteException(file, text.Line, problem, host);
    }

    /// <summary>The deployer's own TLS identity for the NF's health checks that speak TLS to the hosts: the name the NF
    /// declares (<c>identity: deployer:</c>), a client certificate of the site CA for it, and the CA.</summary>
    private ScriptObject DeployerTls(NfPlacement placement)
    {
        var identity = _deployerIdentities.GetValueOrDefault(placement.Nf.Name)
            ?? throw new TemplateFunctionException($"deployer_tls: {placement.Describe()} declares no deployer identity " +
                $"(identity: deployer: in {placement.Nf.File})");
        _certificates.Value.ForHost(DeployerPkiName, identity, []);
        var (cert, key) = _certificates.Value.PathsOf(DeployerPkiName);
        return new ScriptObject { ["identity"] = identity, ["cert"] = cert, ["key"] = key, ["ca"] = _certificates.Value.CaPath };
    }

    /// <summary>For errors about a host's certificate: where its identity comes from.</summary>
    private string IdentityOrigin(string host) =>
        _identityOrigins.TryGetValue(host, out var origin) ? $" ({origin})" : " (its name: no NF of the host declares identity.host)";
}
