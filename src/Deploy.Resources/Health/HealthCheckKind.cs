using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Core.Transport;

namespace Deploy.Resources.Health;

/// <summary>
/// One kind of health check an NF may declare under <c>health:</c> (<c>tcp: {...}</c>): its name, how its arguments are
/// read and checked when the site is compiled (errors name the site file and line), and one try of the check. A new kind
/// is a subclass in Kinds/ plus its line in <see cref="HealthCheckKinds.BuiltIn"/>.
/// </summary>
public abstract class HealthCheckKind
{
    /// <summary>The key that declares it in <c>health:</c>, and <see cref="HealthCheckSpec.Kind"/>.</summary>
    public abstract string Name { get; }

    /// <summary>A call through the site: its scenario templates are rendered with the site and <c>./deploy test</c> runs it
    /// (<see cref="HealthCheckSpec.CallTest"/>).</summary>
    public virtual bool IsCallTest => false;

    /// <summary>The pause between two tries while the check fails and time is left.</summary>
    public virtual TimeSpan RetryDelay => TimeSpan.FromMilliseconds(500);

    /// <summary>Why the check cannot have this scope (<c>scope: site</c> or host), or null when it can.</summary>
    public virtual string? ScopeProblem(bool siteWide) => null;

    /// <summary>
    /// The declared arguments (a mapping) as the check's flat arguments, each with its line, still to be rendered per
    /// host. By default every argument is a single value; a kind with structured arguments flattens them here.
    /// </summary>
    /// <exception cref="SiteException">The arguments are wrong, with the site file and line.</exception>
    public virtual ImmutableSortedDictionary<string, DeclaredScalar> ReadArguments(DeclaredMap args, DeclaredArgReader reader) =>
        args.Entries.ToImmutableSortedDictionary(entry => entry.Key, entry => reader.Scalar(entry.Value, entry.Key),
            StringComparer.Ordinal);

    /// <summary>One try of the check, with the rendered arguments; <see cref="HealthChecker"/> retries it.</summary>
    public abstract Task<HealthResult> RunOnceAsync(HealthCheckSpec check, IHostTransport transport, CancellationToken ct);

    /// <summary>The last part of a long output, for a result's detail.</summary>
    protected static string Tail(string output) => output.Length <= 300 ? output : "…" + output[^300..];
}
