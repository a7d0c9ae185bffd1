using Deploy.Core.Lab;
using Deploy.Site.Yaml;
using YamlDotNet.RepresentationModel;

namespace Deploy.Site.Model;

/// <summary>
/// A host's or a group's <c>lab:</c>: <c>true</c> (a lab host), or a mapping that makes it a lab host with settings:
/// <c>lab: { init: systemd }</c> boots systemd as PID 1 (the lab image with systemd), <c>init: sysv</c> runs the init.d
/// scripts. The inventory's <c>lab:</c> section may set the default <c>init:</c> of its hosts.
/// </summary>
public static class LabHostSettings
{
    public static readonly string[] Inits = [LabInit.Sysv, LabInit.Systemd];

    /// <summary>Whether the node makes a lab host (null: not said), and the init it asks for (null: not said).</summary>
    public static (bool? Lab, string? Init) Read(YamlFile y, YamlMappingNode owner, string what)
    {
        switch (y.Get(owner, "lab"))
        {
            case null:
                return (null, null);
            case YamlMappingNode m:
                y.AllowOnly(m, $"lab of {what}", "init", "devices", "capabilities");
                return (true, Init(y, m, what));
            case var n:
                var v = y.Scalar(n, $"lab of {what}");
                return v switch
                {
                    "true" or "yes" => (true, null),
                    "false" or "no" => (false, null),
                    _ => throw y.Error(n, $"lab of {what} must be true, false or a mapping such as {{ init: systemd }}, not '{v}'"),
                };
        }
    }

    /// <summary>The <c>init:</c> of a mapping, checked.</summary>
    public static string? Init(YamlFile y, YamlMappingNode m, string what)
    {
        if (y.Get(m, "init") is not { } n) return null;
        var init = y.Scalar(n, $"init of {what}");
        return Inits.Contains(init) ? init : throw y.Error(n, $"init of {what} must be one of {string.Join(", ", Inits)}, not '{init}'");
    }
}
