using System.Collections.Immutable;
using Deploy.Resources.Health.Kinds;

namespace Deploy.Resources.Health;

/// <summary>
/// The registry of health check kinds: the site compiler reads and checks <c>health:</c> entries through it, and
/// <see cref="HealthChecker"/> runs them through it. Its order is the order kinds are listed in errors.
/// </summary>
public sealed class HealthCheckKinds
{
    /// <summary>Every built-in kind: one line each.</summary>
    public static HealthCheckKinds BuiltIn { get; } = new(
    [
        new SipOptionsCheck(),
        new CommandCheck(),
        new TcpCheck(),
        new DiameterCheck(),
        new Gtpv2EchoCheck(),
        new CallTestCheck(),
    ]);

    private readonly ImmutableArray<HealthCheckKind> _kinds;

    public HealthCheckKinds(IEnumerable<HealthCheckKind> kinds)
    {
        _kinds = [.. kinds];
        if (_kinds.GroupBy(kind => kind.Name).FirstOrDefault(group => group.Count() > 1) is { } twice)
            throw new ArgumentException($"health check kind '{twice.Key}' is registered twice", nameof(kinds));
    }

    /// <summary>This registry and one more kind.</summary>
    public HealthCheckKinds With(HealthCheckKind kind) => new([.. _kinds, kind]);

    public ImmutableArray<string> Names => [.. _kinds.Select(kind => kind.Name)];

    public HealthCheckKind? Find(string name) => _kinds.FirstOrDefault(kind => kind.Name == name);

    /// <summary>The error for a <c>health:</c> entry of an unknown kind, listing the known ones.</summary>
    public string UnknownKind(string name) => $"unknown health check '{name}' ({Listed()})";

    /// <summary>The error for a <c>health:</c> entry that is not exactly one kind.</summary>
    public string NotOneKind() =>
        $"a health check is one of: {string.Join(", ", Names.Select(name => name + ": {...}"))} (and an optional when:)";

    /// <summary>"a, b or c".</summary>
    private string Listed() => Names.Length < 2 ? string.Join("", Names) : string.Join(", ", Names[..^1]) + " or " + Names[^1];
}
