using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Serialization;
using Deploy.Core.Model;

namespace Deploy.Core.State;

/// <summary>
/// A stack's checkpoint as <c>pulumi stack export</c> writes it (<c>{"version": 3, "deployment": {...}}</c>): the
/// form export/import move between backends and the PostgreSQL backend stores.
/// </summary>
public static class CheckpointJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static string Serialize(StackState state) => JsonSerializer.Serialize(new Export(3, new Deployment(
        new Manifest(state.Updated, "nf-deploy"),
        [.. state.Resources.Select(r => new ResourceJson(r.Urn, true, r.Type, r.Host, r.Name,
            new Dictionary<string, string>(r.Identity), new Dictionary<string, string>(r.Outputs),
            r.Adopted is null ? null : new Dictionary<string, string>(r.Adopted)))],
        new Dictionary<string, HostRecord>(state.Hosts),
        [.. state.PendingRestarts.Select(p => p.ToString())])), Options);

    /// <summary>Reads an exported checkpoint; <paramref name="source"/> names it in errors.</summary>
    public static StackState Parse(string json, string stack, string source)
    {
        Export? doc;
        try { doc = JsonSerializer.Deserialize<Export>(json, Options); }
        catch (JsonException e)
        {
            throw new DeployException($"{source}: not a stack export (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}): {e.Message.Split(" Path:")[0]}", e);
        }
        if (doc?.Deployment is not { } d || d.Manifest is null)
            throw new DeployException($"{source}: not a stack export: it needs {{\"version\": 3, \"deployment\": {{\"manifest\": ...}}}}");
        if (doc.Version != 3) throw new DeployException($"{source}: checkpoint version {doc.Version} is not supported (3 is)");
        var resources = d.Resources ?? [];
        var prefix = $"urn:pulumi:{stack}::";
        if (resources.FirstOrDefault(r => r.Urn is null || !r.Urn.StartsWith(prefix, StringComparison.Ordinal)) is { } other)
            throw new DeployException($"{source}: resource '{other.Urn}' is not of stack {stack}: import a stack's export into the stack of that name");
        return new StackState(stack, d.Manifest.Time,
            [.. resources.Select(r => new ResourceRecord(r.Urn, r.Type, r.Host, r.Name,
                (r.Identity ?? []).ToImmutableSortedDictionary(StringComparer.Ordinal),
                (r.Outputs ?? []).ToImmutableSortedDictionary(StringComparer.Ordinal))
            { Adopted = r.Adopted?.ToImmutableSortedDictionary(StringComparer.Ordinal) })],
            (d.Hosts ?? []).ToImmutableSortedDictionary(h => h.Key, h => h.Value, StringComparer.Ordinal),
            [.. (d.PendingRestarts ?? []).Select(p => Pending(p, source))]);
    }

    private static PendingRestart Pending(string text, string source)
    {
        try { return PendingRestart.Parse(text); }
        catch (FormatException e) { throw new DeployException($"{source}: {e.Message}", e); }
    }

    private sealed record Export(int Version, Deployment? Deployment);

    private sealed record Deployment(Manifest? Manifest, List<ResourceJson>? Resources, Dictionary<string, HostRecord>? Hosts, List<string>? PendingRestarts);

    private sealed record Manifest(DateTimeOffset Time, string Version);

    private sealed record ResourceJson(string Urn, bool Custom, string Type, string Host, string Name,
        Dictionary<string, string>? Identity, Dictionary<string, string>? Outputs, Dictionary<string, string>? Adopted = null);
}
