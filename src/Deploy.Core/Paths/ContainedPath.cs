using Deploy.Core.Model;

namespace Deploy.Core.Paths;

/// <summary>
/// Paths named by site files (or the command line) resolve inside a root or are refused: <c>..</c>, absolute paths and
/// symbolic links are followed the way the kernel would (every link of every component, as realpath(3)), and the result
/// must stay under the root's own real path. Parts that do not exist yet (a file render is about to write) are resolved
/// as far as they exist.
/// </summary>
public static class ContainedPath
{
    /// <summary>The real path of <paramref name="relative"/> under <paramref name="root"/>, or null when it leaves it.</summary>
    public static string? Resolve(string root, string relative)
    {
        var realRoot = RealPath(Path.GetFullPath(root));
        var real = RealPath(Path.GetFullPath(Path.Combine(root, relative)));
        return real is not null && realRoot is not null && IsWithin(realRoot, real) ? real : null;
    }

    /// <summary>Whether <paramref name="path"/> (already real) is <paramref name="root"/> or under it.</summary>
    public static bool IsWithin(string root, string path)
    {
        var r = root.TrimEnd('/');
        return path == r || path.StartsWith(r + "/", StringComparison.Ordinal) || r.Length == 0;
    }

    /// <summary>realpath(3) in .NET: every symbolic link followed (at most 40), <c>.</c> and <c>..</c> applied after
    /// links; components that do not exist are kept as they are. Null for a loop of links.</summary>
    public static string? RealPath(string fullPath)
    {
        var pending = new List<string>(fullPath.Split('/', StringSplitOptions.RemoveEmptyEntries));
        var current = "/";
        var hops = 0;
        while (pending.Count > 0)
        {
            var part = pending[0];
            pending.RemoveAt(0);
            if (part == ".") continue;
            if (part == "..") { current = Path.GetDirectoryName(current) ?? "/"; continue; }
            var candidate = Path.Combine(current, part);
            string? target = null;
            try { target = new FileInfo(candidate).LinkTarget; }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            if (target is null) { current = candidate; continue; }
            if (++hops > 40) return null;
            if (target.StartsWith('/')) current = "/";
            pending.InsertRange(0, target.Split('/', StringSplitOptions.RemoveEmptyEntries));
        }
        return current;
    }

    /// <summary>Throws a <see cref="SiteException"/> at <paramref name="file"/>:<paramref name="line"/> when the path leaves its root
    /// (named <paramref name="rootShown"/> in the message, e.g. "the project").</summary>
    public static string Require(string root, string relative, string what, string rootShown, string file, int line, string? host = null) =>
        Resolve(root, relative) ?? throw new SiteException(file, line, $"{what} '{relative}' is outside {rootShown}", host);

}
