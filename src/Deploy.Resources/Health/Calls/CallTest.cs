using System.Collections.Immutable;
using System.Globalization;
using System.Text.RegularExpressions;
using Deploy.Core.Model;

namespace Deploy.Resources.Health.Calls;

/// <summary>One step of a call test: a SIPp scenario sent to a node (or, <c>background</c>, a SIPp UAS listening on the
/// controller until the test ends), or a command run on hosts whose output must match <c>expect</c>.</summary>
public sealed record CallStep(
    string Id, string Name, int Line,
    string? Scenario, string? Xml, string? To, string Transport, string? User, string? From, string? Contact, bool Background, TimeSpan Timeout,
    string? Command, ImmutableArray<string> On, string? Expect)
{
    public bool IsSipp => Xml is not null;
}

/// <summary>A call test as its health check's arguments carry it (see Kinds/CallTestCheck): steps, then cleanup.</summary>
public sealed partial record CallTest(string Name, ImmutableArray<CallStep> Steps, ImmutableArray<CallStep> Cleanup)
{
    public static CallTest From(HealthCheckSpec check)
    {
        var a = check.Args;
        ImmutableArray<CallStep> Part(string part) =>
        [
            .. a.Keys.Where(k => k.StartsWith(part + ".", StringComparison.Ordinal)).Select(k => k.Split('.')[1]).Distinct().Order(StringComparer.Ordinal)
                .Select(n => Step($"{part}.{n}")),
        ];
        CallStep Step(string id)
        {
            string? Get(string key) => a.GetValueOrDefault($"{id}.{key}") is { Length: > 0 } v ? v : null;
            var name = Get("name") ?? Get("sipp") ?? Get("command") ?? id;
            var transport = Get("transport") ?? "udp";
            if (transport is not ("udp" or "tcp"))
                throw new DeployException($"call test {a.GetValueOrDefault("name")}, step '{name}': transport is udp or tcp, not '{transport}' (Debian's SIPp is built without TLS)");
            var timeout = Get("timeout") is { } t && int.TryParse(t.TrimEnd('s'), NumberStyles.None, CultureInfo.InvariantCulture, out var secs) ? secs : 20;
            if (Get("background") == "true" && !Key().IsMatch(name))
                throw new DeployException($"call test {a.GetValueOrDefault("name")}: a background step's name is its key in the other scenarios ([{{name}}_port]): letters, digits and _ only, not '{name}'");
            return new CallStep(id, name, int.TryParse(Get("line"), out var line) ? line : 0,
                Get("sipp"), Get("xml"), Get("to"), transport, Get("user"), Get("from"), Get("contact"), Get("background") == "true", TimeSpan.FromSeconds(timeout),
                Get("command"), [.. (Get("on") ?? "").Split([' ', ','], StringSplitOptions.RemoveEmptyEntries)], Get("expect"));
        }
        return new CallTest(a.GetValueOrDefault("name") ?? "call", Part("steps"), Part("cleanup"));
    }

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9_]*$")]
    private static partial Regex Key();
}
