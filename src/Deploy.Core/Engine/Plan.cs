using System.Collections.Immutable;
using Deploy.Core.Lab;
using Deploy.Core.Model;
using Deploy.Core.Resources;

namespace Deploy.Core.Engine;

/// <summary>One resource's planned operation (Pulumi's "step").</summary>
/// <param name="Desired">The rendered resource, null for deletes.</param>
/// <param name="Identity">Identity of the resource (from the desired spec or the state file).</param>
public sealed record PlanStep(
    string Host,
    string Urn,
    string Type,
    string Name,
    StepOp Op,
    ImmutableArray<PropertyChange> Changes,
    ResourceSpec? Desired,
    ImmutableSortedDictionary<string, string> Identity)
{
    /// <summary>Unified diff of a file's content (never for secrets).</summary>
    public string? ContentDiff { get; init; }

    /// <summary>What other steps of the host make this one do: reload its definition, restart it, start it.</summary>
    public ImmutableArray<StepTrigger> Triggers { get; init; } = [];

    public ResourceDiff Diff => new(Op, Changes) { Triggers = Triggers };

    /// <summary>True when the step (re)starts its resource's process.</summary>
    public bool Restarts => Triggers.Any(t => t.Starts);

    /// <summary>The resource was on the host before nf-deploy first applies it (a package installed by hand, a
    /// hand-written file): the step adopts it (a preview says "adopt"; for a file, its diff is from the hand-written one).</summary>
    public bool Adopt { get; init; }

    /// <summary>A delete of an adopted resource: it is handed back as it was (left, or its original restored).</summary>
    public bool Release { get; init; }
}

/// <summary>A host that could not be planned (unreachable, changed host key...). Other hosts proceed.</summary>
public sealed record HostProblem(string Host, string Message);

/// <summary>A host of the plan as a preview groups it: its inventory group (the role it is deployed in) and the values
/// that differ from host to host (its name and addresses), so that the same change on several hosts shows once.</summary>
public sealed record PlanHost(string Name, string Group, ImmutableArray<string> Addresses);

public sealed record Plan(string Stack, ImmutableArray<PlanStep> Steps, ImmutableArray<HostProblem> Problems)
{
    /// <summary>The lab phase's part: lab hosts created, removed or kept (before any of their resources).</summary>
    public ImmutableArray<LabChange> Lab { get; init; } = [];

    /// <summary>The planned hosts in inventory order, with their groups.</summary>
    public ImmutableArray<PlanHost> Hosts { get; init; } = [];

    /// <summary>How <c>up</c> rolls the hosts out: batches of the groups whose running services restart.</summary>
    public ImmutableArray<RolloutWave> Rollout { get; init; } = [];

    /// <summary>An adoption is a change too (of the state, as Pulumi's import), even when the host already matches.</summary>
    public bool HasChanges => Steps.Any(s => s.Op != StepOp.Same || s.Adopt) || Lab.Any(c => c.Op != StepOp.Same);

    public IEnumerable<PlanStep> Changes => Steps.Where(s => s.Op != StepOp.Same);

    public ImmutableDictionary<StepOp, int> Counts =>
        Steps.Select(s => s.Op).Concat(Lab.Select(c => c.Op)).GroupBy(op => op).ToImmutableDictionary(g => g.Key, g => g.Count());
}

/// <summary>How a host's rollout ended.</summary>
public sealed record HostOutcome(string Host, int Changed, string? Error, ImmutableArray<(HealthCheckSpec Check, HealthResult Result)> Health)
{
    /// <summary>Services restarted (a file that notifies them changed, or a restart left pending).</summary>
    public int Restarts { get; init; }

    /// <summary>Services started for the first time (their package was newly installed).</summary>
    public int Starts { get; init; }

    public bool Ok => Error is null && Health.All(h => h.Result.Healthy);
}

public sealed record ApplyReport(Plan Plan, ImmutableArray<HostOutcome> Hosts)
{
    public bool Ok => Plan.Problems.IsEmpty && Hosts.All(h => h.Ok);

    /// <summary>Site-wide checks (call tests, peers across the cluster) not run, for the reason in
    /// <see cref="SiteChecksSkippedBecause"/>.</summary>
    public int SiteChecksSkipped { get; init; }

    public SiteChecksSkip SiteChecksSkippedBecause { get; init; }
}

/// <summary>Why an <c>up</c> did not run the site-wide checks; <c>./deploy test</c> and <c>./deploy health</c> run them.</summary>
public enum SiteChecksSkip
{
    None,

    /// <summary>A targeted run does not reach every host.</summary>
    Targeted,

    /// <summary>The run changed nothing: the site is as the last run left it, and a call test places real calls.</summary>
    NothingChanged,
}

/// <summary>A difference between the last applied state and what a host has now.</summary>
public sealed record Drift(string Host, string Urn, string Name, ImmutableArray<PropertyChange> Changes);

public sealed record RefreshReport(ImmutableArray<Drift> Drifts, ImmutableArray<HostProblem> Problems);
