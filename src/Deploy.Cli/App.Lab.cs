using System.Collections.Immutable;
using Deploy.Cli.Output;
using Deploy.Core.Lab;
using Deploy.Core.State;
using Deploy.Lab;
using Deploy.Site.Compile;

namespace Deploy.Cli;

// The lab a verb works with: Docker's lab provider, whose first read of the stack was made while the site loaded.
public sealed partial class App
{
    /// <summary>Which lab hosts run, asked of Docker while the rest of the site loads (<see cref="PrefetchedLab"/>).</summary>
    private (string Stack, Task<ImmutableArray<LabHostState>> Read)? _labRead;

    private void PrefetchLab(string stack, Deploy.Site.Model.Inventory inventory, CancellationToken ct)
    {
        if (!inventory.Hosts.Any(h => h.Lab)) return;
        var read = Task.Run(async () =>
        {
            using var docker = new DockerLabProvider();
            return await docker.ReadAsync(stack, ct);
        }, ct);
        // observed by the engine's first read of the lab; a verb that stops before it (a site error) leaves it unobserved
        _ = read.ContinueWith(t => t.Exception, TaskContinuationOptions.OnlyOnFaulted);
        _labRead = (stack, read);
    }

    /// <summary>The lab, whose first read is the one made while the site loaded; taken once, so that a second engine of
    /// the same verb asks Docker again.</summary>
    private ILabProvider? Prefetched(DockerLabProvider? lab)
    {
        if (lab is null || _labRead is not var (stack, read)) return lab;
        _labRead = null;
        return new PrefetchedLab(lab, stack, read);
    }

    private static DockerLabProvider? Lab(SiteProgram site, StackState state, RunOutput output) =>
        site.Lab is not null || state.Hosts.Values.Any(h => h.Lab) ? new DockerLabProvider(output.Line) : null;
}
