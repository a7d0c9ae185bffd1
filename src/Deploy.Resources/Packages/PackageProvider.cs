using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Core.Resources;

namespace Deploy.Resources;

/// <summary>Debian packages through apt. The index is refreshed when a key or repository changed in this run, or
/// when the host has no index yet. apt's lock is waited for (bounded), as another apt may be running. A package
/// installed before nf-deploy (a brownfield host) is adopted: destroy leaves it installed.</summary>
public sealed class PackageProvider : ResourceProvider<PackageSpec>, IAdoptable
{
    private const string Apt = "apt-get -q -y -o DPkg::Lock::Timeout=180";

    public override string Type => ResourceTypes.Package;

    /// <summary>Nothing to run: the facts already list every installed package.</summary>
    public override string Probe(ImmutableSortedDictionary<string, string> identity) => "";

    private static string AfterInstall(ImmutableSortedDictionary<string, string> identity)
    {
        var p = Sh.Quote(Name(identity["package"]));
        return $$"""
            dpkg-query -W -f='status=${db:Status-Abbrev}\nversion=${Version}\n' -- {{p}}
            """;
    }

    public override LiveState? Parse(PackageSpec desired, IReadOnlyDictionary<string, string> values, HostFacts facts)
    {
        if (values.TryGetValue("status", out var st))
            return st.StartsWith("ii", StringComparison.Ordinal) ? LiveState.Of([new("version", values.GetValueOrDefault("version") ?? "")]) : null;
        var name = desired.Package;
        return facts.Packages.TryGetValue(name, out var version) ? LiveState.Of([new("version", version)]) : null;
    }

    public override ResourceDiff Diff(PackageSpec desired, LiveState? live)
    {
        var p = desired;
        if (live is null) return new ResourceDiff(StepOp.Create, [new PropertyChange("version", null, p.Version ?? "latest")]);
        if (p.Version is not null && live["version"] != p.Version)
            return new ResourceDiff(StepOp.Update, [new PropertyChange("version", live["version"], p.Version)]);
        return ResourceDiff.Same;
    }

    public override async Task<LiveState> ApplyAsync(PackageSpec desired, ResourceDiff diff, HostRun run, CancellationToken ct)
    {
        var p = desired;
        var target = Sh.Quote(p.Version is null ? Name(p.Package) : $"{Name(p.Package)}={Shapes.Ensure(p.Version, Shapes.PackageVersion(p.Version))}");
        var update = run.AptIndexStale ? "1" : "0";
        var script = $"""
            export DEBIAN_FRONTEND=noninteractive
            if [ {update} = 1 ] || ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1; then {Apt} update; fi
            {Apt} install --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -- {target}
            """;
        var after = await Script.RunAndProbeAsync(run, "package " + p.Package, script, AfterInstall(p.Identity), ct);
        run.AptIndexStale = false;
        return Parse(p, after, run.Facts)
            ?? throw new ResourceException(run.Transport.HostName, "package " + p.Package, "apt-get succeeded but the package is not installed");
    }

    public override Task DeleteAsync(ImmutableSortedDictionary<string, string> identity, HostRun run, CancellationToken ct) =>
        Script.RunAsync(run, "package " + identity["package"],
            $"export DEBIAN_FRONTEND=noninteractive\n{Apt} purge -- {Sh.Quote(Name(identity["package"]))}", ct);

    /// <summary>Installed: that is all a package's live state says.</summary>
    public bool Existed(LiveState live) => true;

    /// <summary>Nothing to keep: the package stays as it is.</summary>
    public Task KeepOriginalAsync(ResourceSpec desired, HostRun run, CancellationToken ct) => Task.CompletedTask;

    /// <summary>Installed before nf-deploy, installed after it: never purged.</summary>
    public Task ReleaseAsync(ImmutableSortedDictionary<string, string> identity, ImmutableSortedDictionary<string, string> original,
        HostRun run, CancellationToken ct) => Task.CompletedTask;

    /// <summary>A Debian package name, or a refusal (it would reach apt as an option otherwise).</summary>
    private static string Name(string package) => Shapes.Ensure(package, Shapes.PackageName(package));
}
