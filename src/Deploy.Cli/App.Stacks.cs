using System.Collections.Immutable;
using System.Text.Json;
using Deploy.Cli.Output;
using Deploy.Core.Engine;
using Deploy.Core.Model;
using Deploy.Core.Resources;
using Deploy.Core.State;
using Deploy.Site.Model;
using Spectre.Console;

namespace Deploy.Cli;

/// <summary>Verbs about stacks and the state backend: stack ls/history/export/import, whoami, cancel.</summary>
public sealed partial class App
{
    /// <summary>Pulumi's <c>stack ls</c>; with --json an array of {name, lastUpdate, url}, as Pulumi's.</summary>
    public async Task<int> StackListAsync(CancellationToken ct, bool json = false)
    {
        var project = ProjectFile.Load(ws.ProjectDir);
        var stacks = new System.Text.Json.Nodes.JsonArray();
        if (!json) stdout.WriteLine($"backend {_state.DisplayUrl}");
        var table = Tables.New("NAME", "LAST UPDATE");
        foreach (var s in StackConfig.List(ws.ProjectDir, project))
        {
            var updated = await _state.LastUpdateAsync(s, ct);
            if (json)
                stacks.Add(new System.Text.Json.Nodes.JsonObject
                {
                    ["name"] = s, ["lastUpdate"] = updated?.UtcDateTime.ToString("o"), ["url"] = _state.DisplayUrl,
                });
            else table.AddRow(Tables.Cell(s), Tables.Cell(updated is { } u ? u.UtcDateTime.ToString("u") : "never deployed"));
        }
        if (json) stdout.Write(VerbJson.Print(stacks));
        else Print(table);
        return ExitCodes.Ok;
    }

    /// <summary>A table on stdout: fitted and coloured on a terminal, one line per row elsewhere.</summary>
    private void Print(Table table) => Tables.Write(stdout, Mode.StdoutTerminal, Mode, table);

    /// <summary>Pulumi's <c>whoami</c>: the user, and with -v the backend's URL (never its password); --json both.</summary>
    public int WhoAmI(bool json = false)
    {
        if (json) stdout.Write(VerbJson.Print(new System.Text.Json.Nodes.JsonObject { ["user"] = Environment.UserName, ["url"] = _state.DisplayUrl }));
        else stdout.WriteLine(verbose ? $"User: {Environment.UserName}\nBackend URL: {_state.DisplayUrl}" : Environment.UserName);
        return ExitCodes.Ok;
    }

    public async Task<int> CancelAsync(string stack, bool force, CancellationToken ct)
    {
        stdout.WriteLine(await _state.BreakLockAsync(stack, force, ct));
        return ExitCodes.Ok;
    }

    /// <summary><see cref="CancelAsync"/> for callers without a token (specs).</summary>
    public int Cancel(string stack, bool force = false) => CancelAsync(stack, force, CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>Pulumi's <c>stack history</c>: newest first, one line per run (or the records as JSON).</summary>
    public async Task<int> HistoryAsync(string stack, bool json, CancellationToken ct)
    {
        var records = await _state.HistoryAsync(stack, ct);
        if (json) { stdout.WriteLine(JsonSerializer.Serialize(records, CheckpointJson.Options)); return ExitCodes.Ok; }
        if (records.IsEmpty) { stdout.WriteLine($"stack {stack} has no history yet ({_state.DisplayUrl})"); return ExitCodes.Ok; }
        var table = Tables.New("VERSION", "KIND", "RESULT", "START", "DURATION", "CHANGES", "USER@HOST (PID)", "FAILED HOSTS");
        table.Columns[4].RightAligned();
        foreach (var r in records)
        {
            var changes = string.Join(" ", r.ResourceChanges.Where(c => c.Value > 0).Select(c => $"{c.Key}:{c.Value}"));
            table.AddRow(Tables.Cell($"{r.Version}"), Tables.Cell(r.Kind), Tables.Cell(r.Result, r.Result == "succeeded" ? "green" : "red"),
                Tables.Cell($"{r.StartTime.UtcDateTime:u}"), Tables.Cell($"{(r.EndTime - r.StartTime).TotalSeconds:0.0}s"),
                Tables.Cell(changes.Length == 0 ? "-" : changes), Tables.Cell($"{r.User}@{r.Host} ({r.Pid})"),
                Tables.Cell(r.FailedHosts.IsEmpty ? "-" : string.Join(",", r.FailedHosts)));
        }
        Print(table);
        return ExitCodes.Ok;
    }

    /// <summary>Pulumi's <c>stack export</c>: the checkpoint as JSON on stdout (or into a file).</summary>
    public async Task<int> ExportAsync(string stack, string? file, CancellationToken ct)
    {
        var json = CheckpointJson.Serialize(await _state.LoadAsync(stack, ct)) + "\n";
        if (file is null) stdout.Write(json);
        else await File.WriteAllTextAsync(file, json, ct);
        return ExitCodes.Ok;
    }

    /// <summary>Pulumi's <c>stack import</c>: replaces the stack's checkpoint (under its lock) with an exported one.</summary>
    public async Task<int> ImportAsync(string stack, string? file, CancellationToken ct)
    {
        var source = file ?? "stdin";
        string text;
        try { text = file is null ? await Console.In.ReadToEndAsync(ct) : await File.ReadAllTextAsync(file, ct); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new DeployException($"{source}: cannot read it: {e.Message}", e); }
        var state = CheckpointJson.Parse(text, stack, source) with { Stack = stack };
        await using var @lock = await _state.LockAsync(stack, "import", ct);
        await _state.SaveAsync(state, ct);
        stdout.WriteLine($"Import complete: stack {stack} has {state.Resources.Length} resources on {state.Hosts.Count} hosts ({_state.DisplayUrl})");
        return ExitCodes.Ok;
    }

    private void Warn(string message) => stderr.WriteLine(message);

    /// <summary>One history record per run of up/destroy/refresh, written (still under the lock) when the verb ends.
    /// A verb that ends without <see cref="Done"/> (an error, Ctrl-C) is recorded as failed.</summary>
    private sealed class RunHistory(App app, string stack, string kind) : IAsyncDisposable
    {
        private UpdateRecord _record = UpdateRecord.Start(kind) with { Result = "failed", Message = "the run stopped before its end" };

        public static IReadOnlyDictionary<string, int> Counts(Plan plan) =>
            plan.Counts.ToDictionary(c => c.Key.ToString().ToLowerInvariant(), c => c.Value);

        public void Done(bool ok, IReadOnlyDictionary<string, int> changes, IEnumerable<string> failedHosts) =>
            _record = _record with
            {
                Result = ok ? "succeeded" : "failed",
                Message = "",
                ResourceChanges = changes.ToImmutableSortedDictionary(StringComparer.Ordinal),
                FailedHosts = [.. failedHosts.Distinct().Order(StringComparer.Ordinal)],
            };

        public async ValueTask DisposeAsync()
        {
            try { await app._state.AppendHistoryAsync(stack, _record with { EndTime = DateTimeOffset.UtcNow }, CancellationToken.None); }
            catch (DeployException e) { app.Warn($"warning: this run is not in the history: {e.Message}"); }
        }
    }
}
