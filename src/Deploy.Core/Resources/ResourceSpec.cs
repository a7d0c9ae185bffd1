using System.Collections.Immutable;

namespace Deploy.Core.Resources;

/// <summary>
/// A desired resource on one host. Records are immutable; the compiler makes them, the engine plans them,
/// providers read, diff, apply and delete them. <see cref="Name"/> is unique per host and type.
/// </summary>
public abstract record ResourceSpec
{
    public required string Host { get; init; }
    public required string Name { get; init; }

    /// <summary>The NF (or "host") that declared the resource.</summary>
    public string DeclaredBy { get; init; } = "host";

    /// <summary>Pulumi-style type token, e.g. <c>nfdeploy:fs:File</c>.</summary>
    public abstract string Type { get; }

    /// <summary>Properties that identify the live object (path, package name...): enough to read or delete it
    /// from the state file alone.</summary>
    public abstract ImmutableSortedDictionary<string, string> Identity { get; }

    public string Key => $"{Type}::{Host}:{Name}";

    /// <summary>How a preview names the resource when it causes a restart ("/etc/kamailio/kamailio.cfg changed").</summary>
    public virtual string DisplayName => $"{Type} {Name}";

    public string Urn(string stack) => $"urn:pulumi:{stack}::nf-deploy::{Type}::{Host}:{Name}";
}

/// <summary>Builds a resource's identity: the pairs with a value, sorted.</summary>
public static class Ids
{
    public static ImmutableSortedDictionary<string, string> Of(params (string Key, string? Value)[] pairs) =>
        pairs.Where(p => p.Value is not null).ToImmutableSortedDictionary(p => p.Key, p => p.Value!, StringComparer.Ordinal);
}
