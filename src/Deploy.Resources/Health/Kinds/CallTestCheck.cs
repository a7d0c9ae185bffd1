using System.Collections.Immutable;
using System.Globalization;
using Deploy.Core.Model;
using Deploy.Core.Transport;
using Deploy.Resources.Health.Calls;

namespace Deploy.Resources.Health.Kinds;

/// <summary>
/// <c>call</c>: a call test (<c>call: { name, steps: [...], cleanup: [...] }</c>), site health by nature. Its arguments are
/// flattened into <c>name</c>, <c>steps.01.sipp</c>, <c>steps.01.to</c>, ..., <c>steps.01.line</c>, <c>cleanup.01.sipp</c>.
/// A step is a SIPp scenario (<c>sipp:</c> a template of the NF, <c>to:</c> the node, <c>user</c> ([service]), <c>from</c>
/// ([from_user]), <c>contact</c> (a background step whose port is [contact_port]), <c>transport</c>, <c>background</c>,
/// <c>timeout</c>) or a command run on hosts (<c>command</c>, <c>on:</c> host names, <c>expect:</c> a regex). It runs with
/// <see cref="CallTestRunner"/>: steps in order, then cleanup.
/// </summary>
public sealed class CallTestCheck : HealthCheckKind
{
    private static readonly string[] StepKeys =
        ["name", "sipp", "to", "transport", "user", "from", "contact", "background", "timeout", "command", "on", "expect"];

    public override string Name => "call";

    public override bool IsCallTest => true;

    /// <summary>Registrations and calls through the site with SIPp take seconds; so does the pause between tries.</summary>
    public override TimeSpan RetryDelay => TimeSpan.FromMilliseconds(5000);

    public override string? ScopeProblem(bool siteWide) =>
        siteWide ? null : "a call test depends on every node of the site: declare it with scope: site";

    public override ImmutableSortedDictionary<string, DeclaredScalar> ReadArguments(DeclaredMap args, DeclaredArgReader reader)
    {
        reader.AllowOnly(args, "a call test", "name", "steps", "cleanup");
        var flat = ImmutableSortedDictionary.CreateBuilder<string, DeclaredScalar>(StringComparer.Ordinal);
        flat["name"] = reader.Scalar(args.Get("name") ?? throw reader.Error(args, "a call test needs 'name'"), "name");
        foreach (var part in new[] { "steps", "cleanup" })
        {
            var list = reader.List(args, part);
            if (list is null)
            {
                if (part == "steps") throw reader.Error(args, "a call test needs 'steps'");
                continue;
            }
            var number = 0;
            foreach (var item in list.Items)
            {
                var step = item as DeclaredMap ?? throw reader.Error(item, "a call test step must be a mapping");
                CheckStep(step, reader);
                number++;
                foreach (var entry in step.Entries)
                    flat[$"{part}.{number:00}.{entry.Key}"] = reader.Scalar(entry.Value, entry.Key);
                flat[$"{part}.{number:00}.line"] = new DeclaredScalar(step.Line.ToString(CultureInfo.InvariantCulture), step.Line);
            }
        }
        return flat.ToImmutable();
    }

    private static void CheckStep(DeclaredMap step, DeclaredArgReader reader)
    {
        reader.AllowOnly(step, "a call test step", StepKeys);
        if ((step.Get("sipp") is null) == (step.Get("command") is null))
            throw reader.Error(step,
                "a call test step is a SIPp scenario (sipp: a template, to: the node) or a command (command:, on: hosts, expect:)");
        if (step.Get("sipp") is not null && step.Get("to") is null && reader.Text(step, "background") != "true")
            throw reader.Error(step, "a SIPp step needs 'to': the node it sends to (ip:port)");
        if (step.Get("command") is not null && step.Get("on") is null)
            throw reader.Error(step, "a command step needs 'on': the hosts it runs on");
    }

    public override Task<HealthResult> RunOnceAsync(HealthCheckSpec check, IHostTransport transport, CancellationToken ct) =>
        CallTestRunner.RunAsync(check, transport, ct);
}
