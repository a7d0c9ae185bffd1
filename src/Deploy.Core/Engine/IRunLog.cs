namespace Deploy.Core.Engine;

/// <summary>Where the engine reports progress (the CLI prints it; tests collect it).</summary>
public interface IRunLog
{
    void Info(string message);

    void Host(string host, string message);

    void Warn(string host, string message);

    /// <summary>Where a host is in the run: its phase, the step it is on and how many of its steps are done. The engine
    /// says what happens, never how it is shown (a live table, plain lines, a log file).</summary>
    void Progress(HostProgress progress) { }
}

/// <summary>The phases a host goes through in a run, in order; <see cref="Done"/> and <see cref="Failed"/> end it.</summary>
public enum RunPhase
{
    Connect,
    Read,
    Apply,
    Health,
    Delete,
    Done,
    Failed,
}

/// <summary>One host's progress: its phase, the step under way (<c>+ package kamailio</c>) and done/total steps of the phase.</summary>
public sealed record HostProgress(string Host, RunPhase Phase, string? Step = null, int Done = 0, int Total = 0)
{
    /// <summary>The host's run has ended (done or failed).</summary>
    public bool Ended => Phase is RunPhase.Done or RunPhase.Failed;
}

public sealed class NullRunLog : IRunLog
{
    public void Info(string message) { }
    public void Host(string host, string message) { }
    public void Warn(string host, string message) { }
}
