using System.Collections.Immutable;

namespace Deploy.Core.Resources;

/// <summary>What a plan step does to a running resource because of other steps (Ansible's handlers, made explicit):
/// reload the init system's definitions of it, restart it, or start it.</summary>
public enum TriggerKind
{
    /// <summary>The init system reads the resource's definition again first (systemd's <c>daemon-reload</c>).</summary>
    ReloadDefinitions,

    /// <summary>Restarted: a resource that notifies it changed, or a restart was left pending.</summary>
    Restart,

    /// <summary>Started for the first time: the package that brings it was newly installed.</summary>
    Start,
}

/// <summary>One trigger of a step, with why (shown in previews: "restart: /etc/kamailio/kamailio.cfg changed").</summary>
public sealed record StepTrigger(TriggerKind Kind, string Reason)
{
    /// <summary>The word previews and <c>--json</c> print for it.</summary>
    public string Name => Kind switch
    {
        TriggerKind.ReloadDefinitions => "daemon-reload",
        TriggerKind.Restart => "restart",
        _ => "start",
    };

    /// <summary>True for a restart or a first start: the resource's process is (re)started.</summary>
    public bool Starts => Kind is TriggerKind.Restart or TriggerKind.Start;
}

public static class StepTriggers
{
    public static bool Has(this ImmutableArray<StepTrigger> triggers, TriggerKind kind) => triggers.Any(t => t.Kind == kind);
}
