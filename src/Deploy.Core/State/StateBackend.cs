using System.Collections.Immutable;

namespace Deploy.Core.State;

/// <summary>
/// Where a project's stacks live, chosen by URL as Pulumi's backends: the project folder (<c>file://</c>, the default)
/// or a PostgreSQL database (<c>postgres://</c>). Beyond checkpoints and locks it keeps each stack's run history.
/// </summary>
public interface IStateBackend : IStateStore
{
    /// <summary>The backend's URL as it may be shown: never a password.</summary>
    string DisplayUrl { get; }

    /// <summary>When the stack's checkpoint was last written, null when it has none.</summary>
    Task<DateTimeOffset?> LastUpdateAsync(string stack, CancellationToken ct);

    /// <summary>Appends one record to the stack's history; its version is the next number.</summary>
    Task<UpdateRecord> AppendHistoryAsync(string stack, UpdateRecord record, CancellationToken ct);

    /// <summary>The stack's history, newest first.</summary>
    Task<ImmutableArray<UpdateRecord>> HistoryAsync(string stack, CancellationToken ct);

    /// <summary>
    /// Breaks the stack's lock (<c>./deploy cancel</c>): a lock whose holder is gone is removed; one whose holder is
    /// alive is refused with a DeployException unless <paramref name="force"/>. Returns what was done.
    /// </summary>
    Task<string> BreakLockAsync(string stack, bool force, CancellationToken ct);
}

/// <summary>One run of up, destroy or refresh, as Pulumi's update history (<c>pulumi stack history</c>).</summary>
/// <param name="Kind">update, destroy or refresh (Pulumi's kinds).</param>
/// <param name="Result">succeeded or failed.</param>
/// <param name="ResourceChanges">Steps by operation (create, update, replace, delete, same; refresh: drift).</param>
/// <param name="FailedHosts">Hosts that failed or could not be read.</param>
public sealed record UpdateRecord(
    int Version,
    string Kind,
    string Result,
    DateTimeOffset StartTime,
    DateTimeOffset EndTime,
    string User,
    string Host,
    int Pid,
    ImmutableSortedDictionary<string, int> ResourceChanges,
    ImmutableArray<string> FailedHosts,
    string Message)
{
    /// <summary>Who runs this process, from where, now: the fields every record starts with.</summary>
    public static UpdateRecord Start(string kind) => new(0, kind, "in-progress", DateTimeOffset.UtcNow, DateTimeOffset.UtcNow,
        Environment.UserName, Environment.MachineName, Environment.ProcessId,
        ImmutableSortedDictionary<string, int>.Empty, [], "");
}
