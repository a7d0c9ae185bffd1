using System.Collections.Immutable;
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

    public ResourceDiff Diff => new(Op, Changes);

    /// <summary>True when a service step restarts the service.</summary>
    public bool Restarts => Type == ResourceTypes.Service && Changes.Any(c => c.Name is "restart" or "start");
}

/// <summary>A host that could not be planned (unreachable, changed host key...). Other hosts proceed.</summary>
public sealed record HostProblem(string Host, string Message);

public sealed record Plan(string Stack, ImmutableArray<PlanStep> Steps, ImmutableArray<HostProblem> Problems)
{
    public bool HasChanges => Steps.Any(s => s.Op != StepOp.Same);

    public IEnumerable<PlanStep> Changes => Steps.Where(s => s.Op != StepOp.Same);

    public ImmutableDictionary<StepOp, int> Counts =>
        Steps.GroupBy(s => s.Op).ToImmutableDictionary(g => g.Key, g => g.Count());
}

/// <summary>How a host's rollout ended.</summary>
public sealed record HostOutcome(string Host, int Changed, string? Error, ImmutableArray<(HealthCheckSpec Check, HealthResult Result)> Health)
{
    public bool Ok => Error is null && Health.All(h => h.Result.Healthy);
}

public sealed record ApplyReport(Plan Plan, ImmutableArray<HostOutcome> Hosts)
{
    public bool Ok => Plan.Problems.IsEmpty && Hosts.All(h => h.Ok);
}

/// <summary>A difference between the last applied state and what a host has now.</summary>
public sealed record Drift(string Host, string Urn, string Name, ImmutableArray<PropertyChange> Changes);

public sealed record RefreshReport(ImmutableArray<Drift> Drifts, ImmutableArray<HostProblem> Problems);
