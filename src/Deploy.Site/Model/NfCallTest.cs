using System.Collections.Immutable;
using Deploy.Site.Yaml;
using YamlDotNet.RepresentationModel;

namespace Deploy.Site.Model;

/// <summary>
/// A call test declared in an NF's <c>health:</c> (<c>call: { name, steps: [...], cleanup: [...] }</c>), flattened into a
/// health check's arguments: <c>name</c>, <c>steps.01.sipp</c>, <c>steps.01.to</c>, ..., <c>cleanup.01.sipp</c>. A step is a
/// SIPp scenario (<c>sipp:</c> a template of the NF, <c>to:</c> the node, <c>user</c> ([service]), <c>from</c> ([from_user]),
/// <c>contact</c> (a background step whose port is [contact_port]), <c>transport</c>, <c>background</c>, <c>timeout</c>) or a command run on hosts (<c>command</c>, <c>on:</c> host names, <c>expect:</c> a regex).
/// </summary>
public static class NfCallTest
{
    private static readonly string[] StepKeys = ["name", "sipp", "to", "transport", "user", "from", "contact", "background", "timeout", "command", "on", "expect"];

    public static ImmutableSortedDictionary<string, Templated> Args(YamlFile y, YamlMappingNode m)
    {
        y.AllowOnly(m, "a call test", "name", "steps", "cleanup");
        Templated T(YamlNode n, string what) => new(y.Scalar(n, what), YamlFile.Line(n));
        var args = ImmutableSortedDictionary.CreateBuilder<string, Templated>(StringComparer.Ordinal);
        args["name"] = T(y.Get(m, "name") ?? throw y.Error(m, "a call test needs 'name'"), "name");
        foreach (var part in new[] { "steps", "cleanup" })
        {
            var seq = y.Seq(m, part);
            if (seq is null) { if (part == "steps") throw y.Error(m, "a call test needs 'steps'"); continue; }
            var i = 0;
            foreach (var n in seq.Children)
            {
                var s = n as YamlMappingNode ?? throw y.Error(n, "a call test step must be a mapping");
                y.AllowOnly(s, "a call test step", StepKeys);
                if ((y.Get(s, "sipp") is null) == (y.Get(s, "command") is null))
                    throw y.Error(s, "a call test step is a SIPp scenario (sipp: a template, to: the node) or a command (command:, on: hosts, expect:)");
                if (y.Get(s, "sipp") is not null && y.Get(s, "to") is null && y.Str(s, "background") != "true")
                    throw y.Error(s, "a SIPp step needs 'to': the node it sends to (ip:port)");
                if (y.Get(s, "command") is not null && y.Get(s, "on") is null)
                    throw y.Error(s, "a command step needs 'on': the hosts it runs on");
                i++;
                foreach (var (key, _, value) in y.Entries(s))
                    args[$"{part}.{i:00}.{key}"] = T(value, key);
                args[$"{part}.{i:00}.line"] = new Templated(YamlFile.Line(s).ToString(System.Globalization.CultureInfo.InvariantCulture), YamlFile.Line(s));
            }
        }
        return args.ToImmutable();
    }
}
