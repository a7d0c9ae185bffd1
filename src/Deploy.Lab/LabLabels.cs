namespace Deploy.Lab;

/// <summary>Labels and names of the Docker objects a lab stack owns.</summary>
internal static class LabLabels
{
    public const string Stack = "nf-deploy.stack";
    public const string Host = "nf-deploy.host";

    public static string ContainerName(string stack, string host) => $"nfd-{stack}-{host}";

    /// <summary>A Docker API label filter: label=key=value for each pair.</summary>
    public static IDictionary<string, IDictionary<string, bool>> Filter(params (string Key, string Value)[] labels) =>
        new Dictionary<string, IDictionary<string, bool>>
        {
            ["label"] = labels.ToDictionary(l => $"{l.Key}={l.Value}", _ => true),
        };
}
