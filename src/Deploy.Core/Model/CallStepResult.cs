namespace Deploy.Core.Model;

/// <summary>One step of a call test (a SIPp scenario, or a command on the hosts): passed or not, how long it took, and
/// what it saw (the SIP response or timeout, a log excerpt).</summary>
public sealed record CallStepResult(string Name, bool Ok, long Milliseconds, string Detail, bool Cleanup = false);
