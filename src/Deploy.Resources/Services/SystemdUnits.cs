using Deploy.Core.Resources;

namespace Deploy.Resources;

/// <summary>Which files configure a systemd service: its unit file, its template's (<c>name@.service</c> for
/// <c>name@instance</c>), and their drop-ins, in the directories systemd reads units from.</summary>
public static class SystemdUnits
{
    private static readonly string[] Dirs = ["/etc/systemd/system/", "/run/systemd/system/", "/lib/systemd/system/", "/usr/lib/systemd/system/"];

    public static bool Configures(string path, string service)
    {
        var dir = Dirs.FirstOrDefault(d => path.StartsWith(d, StringComparison.Ordinal));
        if (dir is null) return false;
        var rest = path[dir.Length..];
        var unit = rest.Split('/')[0];
        string[] names = service.IndexOf('@') is var at and > 0
            ? [service + ".service", service[..(at + 1)] + ".service"]
            : [service + ".service"];
        return names.Any(n => rest == n || unit == n + ".d" && rest.EndsWith(".conf", StringComparison.Ordinal));
    }
}
