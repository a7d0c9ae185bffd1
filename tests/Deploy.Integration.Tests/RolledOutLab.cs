namespace Deploy.Integration.Tests;

/// <summary>A lab site rolled out once (first `up` of a fresh site) and shared by a collection's specs, each of which
/// leaves it converged. Destroyed at the end.</summary>
public abstract class RolledOutSite(LabSite site) : IAsyncLifetime
{
    public LabSite Site { get; } = site;
    public LabSite.Run FirstUp { get; private set; } = new(-1, "", "");

    public async ValueTask InitializeAsync()
    {
        // a run that was killed leaves its lab behind, reachable only with that run's key: start clean
        using (var docker = new Deploy.Lab.DockerLabProvider())
            await docker.DestroyAsync(Site.Stack, TestContext.Current.CancellationToken);
        FirstUp = await Site.Up();
    }

    public async ValueTask DisposeAsync()
    {
        await Site.Destroy();
        Site.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>The lab site's Kamailio and EPC slices (stack `it`).</summary>
public sealed class RolledOutLab() : RolledOutSite(new LabSite(groups: ["kamailio", "pcrf", "pgw"]));

/// <summary>Specs sharing the rolled-out lab run one after another against it.</summary>
[CollectionDefinition("lab")]
public sealed class LabCollection : ICollectionFixture<RolledOutLab>;
