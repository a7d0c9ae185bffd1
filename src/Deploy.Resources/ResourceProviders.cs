using System.Collections.Immutable;
using Deploy.Core.Resources;

namespace Deploy.Resources;

public static class ResourceProviders
{
    /// <summary>Every built-in provider by type token.</summary>
    public static ImmutableDictionary<string, IResourceProvider> All() =>
        new IResourceProvider[]
        {
            new FileProvider(ResourceTypes.File),
            new FileProvider(ResourceTypes.AptKey),
            new FileProvider(ResourceTypes.AptRepository),
            new DirectoryProvider(),
            new PackageProvider(),
            new HostnameProvider(),
            new ServiceProvider(),
            new SqlSchemaProvider(),
            new SqlUserProvider(),
            new SqlRowProvider(),
            new CertificateProvider(),
        }.ToImmutableDictionary(p => p.Type);
}
