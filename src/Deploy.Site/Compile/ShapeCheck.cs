using Deploy.Core.Model;

namespace Deploy.Site.Compile;

/// <summary>A rendered value that meets a script on a host: refused with the site file's line when its shape is wrong
/// (<see cref="Deploy.Core.Resources.Shapes"/>).</summary>
internal static class ShapeCheck
{
    public static string Ok(string value, string? problem, string file, int line, string host) =>
        problem is null ? value : throw new SiteException(file, line, problem, host);

    /// <summary>A var that must be a whole number of at least 1 (<c>backup_keep</c>...), or its default when unset.</summary>
    public static int Count(IReadOnlyDictionary<string, object?> vars, string name, int fallback, string file, int line, string host) =>
        vars.GetValueOrDefault(name) switch
        {
            null => fallback,
            long n and >= 1 and <= 10_000 => (int)n,
            var v => throw new SiteException(file, line, $"var {name} must be a whole number from 1 to 10000, not '{v}'", host),
        };
}
