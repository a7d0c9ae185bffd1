namespace Deploy.Core.Engine;

/// <summary>Where the engine reports progress (the CLI prints it; tests collect it).</summary>
public interface IRunLog
{
    void Info(string message);

    void Host(string host, string message);

    void Warn(string host, string message);
}

public sealed class NullRunLog : IRunLog
{
    public void Info(string message) { }
    public void Host(string host, string message) { }
    public void Warn(string host, string message) { }
}
