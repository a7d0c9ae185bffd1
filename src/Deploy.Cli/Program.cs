using System.CommandLine;
using System.CommandLine.Invocation;
using System.Runtime.InteropServices;
using Deploy.Cli;
using Deploy.Core.Model;

// nf-deploy: Pulumi's verbs for telecom network functions.
var stackOpt = new Option<string>("--stack", "-s") { Description = "The stack (site) to operate on: stacks/Pulumi.<stack>.yaml", Required = true };
var cwdOpt = new Option<string?>("--cwd", "-C") { Description = "Run as if started in this folder (the project with Pulumi.yaml)", Recursive = true };
var parallelOpt = new Option<int>("--parallel", "-p") { Description = "Hosts read and updated at once", DefaultValueFactory = _ => 16, Recursive = true };
var verboseOpt = new Option<bool>("--verbose", "-v") { Description = "More progress output", Recursive = true };
var nonInteractiveOpt = new Option<bool>("--non-interactive") { Description = "Never prompt: a verb that would ask fails at once (as without a terminal)", Recursive = true };
var jsonOpt = new Option<bool>("--json", "-j") { Description = "Print the plan as JSON (steps with host, urn, type, op); all other text goes to stderr" };
var expectOpt = new Option<bool>("--expect-no-changes") { Description = "Exit 3 when anything would change (drift checks in CI)" };
var yesOpt = new Option<bool>("--yes", "-y") { Description = "Go ahead without asking" };
var showSamesOpt = new Option<bool>("--show-sames") { Description = "Also list resources that do not change" };
var replaceOpt = new Option<string[]>("--replace") { Description = "Re-issue this resource (a certificate's URN, as preview --json shows it); repeatable", AllowMultipleArgumentsPerToken = false };
var targetOpt = new Option<string[]>("--target", "--limit", "-t") { Description = "Act only on this host, group (inventory group or role) or resource URN (as preview --json shows it); repeatable. --limit: Ansible's word", AllowMultipleArgumentsPerToken = false };
var outOpt = new Option<string>("--out", "-o") { Description = "Folder to render into: <out>/<host>/<path on the host>", Required = true };
var keyArg = new Argument<string>("key") { Description = "Setting name, as declared in Pulumi.yaml" };
var valueArg = new Argument<string>("value") { Description = "Value (YAML: [a, b] is a list)" };
var optionalKeyArg = new Argument<string?>("key") { Description = "Setting name", Arity = ArgumentArity.ZeroOrOne };
var secretOpt = new Option<bool>("--secret") { Description = "Store the value encrypted (Pulumi's secure: form; passphrase from PULUMI_CONFIG_PASSPHRASE[_FILE])" };
var pathOpt = new Option<bool>("--path") { Description = "The key is a path into a list or object setting: uacRegistrations[0].expires" };
var showSecretsOpt = new Option<bool>("--show-secrets") { Description = "Show secret settings' values (needs the passphrase); they are masked otherwise" };
var reportJsonOpt = new Option<bool>("--json", "-j") { Description = "Print the result as one JSON document on stdout; all other text goes to stderr" };
var diffOpt = new Option<bool>("--diff") { Description = "Also show the whole content of new files (a diff from empty); without it a new file is just '+ create'" };
var configJsonOpt = new Option<bool>("--json", "-j") { Description = "Print the settings as a JSON object (secrets masked unless --show-secrets)" };

App AppFor(ParseResult r) =>
    new(Workspace.Find(r.GetValue(cwdOpt)), Console.Out, Console.Error, Math.Max(1, r.GetValue(parallelOpt)), r.GetValue(verboseOpt))
    {
        Interactive = !r.GetValue(nonInteractiveOpt) && !Console.IsInputRedirected,
        Mode = Deploy.Cli.Output.ConsoleMode.Detect(),
        Colour = PlanPrinter.ColourWanted(Console.IsOutputRedirected),
    };

var preview = new Command("preview", "Read the hosts and show what `up` would change, with diffs")
{
    stackOpt, jsonOpt, expectOpt, showSamesOpt, replaceOpt, targetOpt, diffOpt,
};
preview.SetAction((r, ct) => Run(r, app => app.PreviewAsync(r.GetValue(stackOpt)!, r.GetValue(jsonOpt), r.GetValue(expectOpt),
    r.GetValue(showSamesOpt), ct, r.GetValue(replaceOpt) ?? [], r.GetValue(targetOpt) ?? [], r.GetValue(diffOpt))));

var up = new Command("up", "Create or update the site's resources (lab hosts included)") { stackOpt, yesOpt, jsonOpt, replaceOpt, targetOpt, diffOpt };
up.SetAction((r, ct) => Run(r, app => app.UpAsync(r.GetValue(stackOpt)!, r.GetValue(yesOpt), r.GetValue(jsonOpt), ct, r.GetValue(replaceOpt) ?? [],
    r.GetValue(targetOpt) ?? [], r.GetValue(diffOpt))));

var refresh = new Command("refresh", "Read the hosts and report drift from the last applied state") { stackOpt, expectOpt, targetOpt, reportJsonOpt };
refresh.SetAction((r, ct) => Run(r, app => app.RefreshAsync(r.GetValue(stackOpt)!, r.GetValue(expectOpt), ct, r.GetValue(targetOpt) ?? [],
    r.GetValue(reportJsonOpt))));

var serviceOpt = new Option<string?>("--service") { Description = "Restart only this service (its name, as preview shows it)" };
var restart = new Command("restart", "Restart the targeted hosts' services, with no config change, in the batches and health gates of up")
{
    stackOpt, targetOpt, serviceOpt, yesOpt, reportJsonOpt,
};
restart.SetAction((r, ct) => Run(r, app => app.RestartAsync(r.GetValue(stackOpt)!, r.GetValue(targetOpt) ?? [], r.GetValue(serviceOpt),
    r.GetValue(yesOpt), ct, r.GetValue(reportJsonOpt))));

var destroy = new Command("destroy", "Delete every resource of the stack; lab hosts are removed") { stackOpt, yesOpt, reportJsonOpt };
destroy.SetAction((r, ct) => Run(r, app => app.DestroyAsync(r.GetValue(stackOpt)!, r.GetValue(yesOpt), ct, r.GetValue(reportJsonOpt))));

var render = new Command("render", "Render every host's files offline (no host is contacted)") { stackOpt, outOpt, reportJsonOpt };
render.SetAction((r, ct) => Run(r, app => app.RenderAsync(r.GetValue(stackOpt)!, r.GetValue(outOpt)!, ct, r.GetValue(reportJsonOpt))));

var configSet = new Command("set", "Set a stack setting") { keyArg, valueArg, stackOpt, secretOpt, pathOpt };
configSet.SetAction((r, ct) => Run(r, app => Task.FromResult(app.ConfigSet(r.GetValue(stackOpt)!, r.GetValue(keyArg)!, r.GetValue(valueArg)!, r.GetValue(secretOpt), r.GetValue(pathOpt)))));
var configGet = new Command("get", "Print a stack setting (a secret's value too: it needs the passphrase)") { keyArg, stackOpt, pathOpt, configJsonOpt };
configGet.SetAction((r, ct) => Run(r, app => Task.FromResult(app.ConfigGet(r.GetValue(stackOpt)!, r.GetValue(keyArg)!, r.GetValue(pathOpt), r.GetValue(configJsonOpt)))));
var configRm = new Command("rm", "Remove a stack setting (its default applies)") { keyArg, stackOpt, pathOpt };
configRm.SetAction((r, ct) => Run(r, app => Task.FromResult(app.ConfigRm(r.GetValue(stackOpt)!, r.GetValue(keyArg)!, r.GetValue(pathOpt)))));
var config = new Command("config", "Show or change the stack's settings (secrets masked unless --show-secrets)") { configSet, configGet, configRm, stackOpt, optionalKeyArg, showSecretsOpt, configJsonOpt };
config.SetAction((r, ct) => Run(r, app => Task.FromResult(r.GetValue(optionalKeyArg) is { } key
    ? app.ConfigGet(r.GetValue(stackOpt)!, key, json: r.GetValue(configJsonOpt))
    : app.ConfigList(r.GetValue(stackOpt)!, r.GetValue(showSecretsOpt), r.GetValue(configJsonOpt)))));

var health = new Command("health", "Run the site's health checks against the hosts as they are, changing nothing") { stackOpt, reportJsonOpt, targetOpt };
health.SetAction((r, ct) => Run(r, app => app.HealthAsync(r.GetValue(stackOpt)!, ct, r.GetValue(reportJsonOpt), r.GetValue(targetOpt) ?? [])));

var stackLs = new Command("ls", "List the stacks") { reportJsonOpt };
stackLs.SetAction((r, ct) => Run(r, app => app.StackListAsync(ct, r.GetValue(reportJsonOpt))));
var historyJsonOpt = new Option<bool>("--json", "-j") { Description = "Print the records as JSON" };
var stackHistory = new Command("history", "List the stack's runs (up, destroy, refresh): who, from where, when, result, changes") { stackOpt, historyJsonOpt };
stackHistory.SetAction((r, ct) => Run(r, app => app.HistoryAsync(r.GetValue(stackOpt)!, r.GetValue(historyJsonOpt), ct)));
var exportFileOpt = new Option<string?>("--file") { Description = "Write to this file instead of stdout" };
var stackExport = new Command("export", "Print the stack's checkpoint (JSON, Pulumi's export form)") { stackOpt, exportFileOpt };
stackExport.SetAction((r, ct) => Run(r, app => app.ExportAsync(r.GetValue(stackOpt)!, r.GetValue(exportFileOpt), ct)));
var importFileOpt = new Option<string?>("--file") { Description = "The exported checkpoint (stdin when absent)" };
var stackImport = new Command("import", "Replace the stack's checkpoint with an exported one (under the stack's lock)") { stackOpt, importFileOpt };
stackImport.SetAction((r, ct) => Run(r, app => app.ImportAsync(r.GetValue(stackOpt)!, r.GetValue(importFileOpt), ct)));
var initNameArg = new Argument<string?>("name") { Description = "The new stack's name (or --stack)", Arity = ArgumentArity.ZeroOrOne };
var initStackOpt = new Option<string?>("--stack", "-s") { Description = "The new stack's name" };
var stackInit = new Command("init", "Create a stack: stacks/Pulumi.<stack>.yaml, every setting at its default (the only verb that accepts a new stack)") { initNameArg, initStackOpt };
stackInit.SetAction((r, ct) => Run(r, app => Task.FromResult(app.StackInit(r.GetValue(initNameArg) ?? r.GetValue(initStackOpt)))));
var stackCmd = new Command("stack", "Stacks of the project") { stackInit, stackLs, stackHistory, stackExport, stackImport };

var whoami = new Command("whoami", "Print the user; with -v the state backend's URL (never its password)") { reportJsonOpt };
whoami.SetAction((r, ct) => Run(r, app => Task.FromResult(app.WhoAmI(r.GetValue(reportJsonOpt)))));

var forceOpt = new Option<bool>("--force") { Description = "Break a lock whose holder is alive (its run then stops at its next checkpoint)" };
var cancel = new Command("cancel", "Break the lock left by a run that died (kill -9, power loss)") { stackOpt, yesOpt, forceOpt };
cancel.SetAction((r, ct) => Run(r, app => app.CancelAsync(r.GetValue(stackOpt)!, r.GetValue(forceOpt), ct)));

var testJsonOpt = new Option<bool>("--json", "-j") { Description = "Print the results as JSON (each test with its steps, results and durations)" };
var test = new Command("test", "Run the site's call tests (SIPp registrations and calls through the live site), without a rollout") { stackOpt, testJsonOpt };
test.SetAction((r, ct) => Run(r, app => app.TestAsync(r.GetValue(stackOpt)!, r.GetValue(testJsonOpt), ct)));

// the SSH broker of NF_DEPLOY_SSH_PERSIST (started by the other verbs, not by hand)
var brokerSocketOpt = new Option<string>("--socket") { Required = true };
var brokerIdleOpt = new Option<int>("--idle") { DefaultValueFactory = _ => 300 };
var sshBroker = new Command("ssh-broker", "Hold SSH connections between runs (NF_DEPLOY_SSH_PERSIST)") { brokerSocketOpt, brokerIdleOpt };
sshBroker.Hidden = true;
sshBroker.SetAction((r, ct) => SshPersist.ServeAsync(r.GetValue(brokerSocketOpt)!, r.GetValue(brokerIdleOpt), ct));

var root = new RootCommand("nf-deploy: deploy telecom network functions (Kamailio, Open5GS, freeDiameter) over SSH, the Pulumi way")
{
    preview, up, refresh, restart, destroy, render, config, stackCmd, cancel, health, test, whoami, sshBroker, cwdOpt, parallelOpt, verboseOpt,
    nonInteractiveOpt,
};
// Ctrl-C and SIGTERM cancel the run through its token: the current step finishes or is abandoned (files on the
// hosts are replaced atomically), the state is saved and the lock released. A second signal ends the process at once.
using var interrupt = new CancellationTokenSource();
var signals = 0;
void OnSignal(PosixSignalContext c)
{
    if (Interlocked.Increment(ref signals) > 1) return; // default handling: the process ends now
    c.Cancel = true;
    Console.Error.WriteLine($"{(c.Signal == PosixSignal.SIGTERM ? "SIGTERM" : "interrupted")}: finishing the current step, saving the state and releasing the lock (again to stop at once)");
    interrupt.Cancel();
}
using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
var parsed = root.Parse(args);
if (parsed.Action is ParseErrorAction usage)
{
    // a command line that does not parse: its errors (and typo corrections) on stderr, nothing on stdout, exit 2
    usage.ShowHelp = false;
    parsed.Invoke(new InvocationConfiguration { Output = Console.Error });
    Console.Error.WriteLine($"usage: ./deploy {string.Join("", CommandPath(parsed.CommandResult).Select(n => n + " "))}--help");
    return ExitCodes.Usage;
}
return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }, interrupt.Token);

// the verbs from the root down to this one ("config set"), without the program's own name
static IEnumerable<string> CommandPath(System.CommandLine.Parsing.CommandResult c) =>
    c.Parent is System.CommandLine.Parsing.CommandResult p ? [.. CommandPath(p), c.Command.Name] : [];

// User errors print one clear message, never a stack trace (and never a secret).
async Task<int> Run(ParseResult r, Func<App, Task<int>> action)
{
    App? app = null;
    try
    {
        app = AppFor(r);
        // a --stack that names no stack is refused (a typo must not create one); `stack init` has its own option
        if (r.GetResult(stackOpt) is not null) app.RequireStack(r.GetValue(stackOpt)!);
        return await action(app);
    }
    catch (DeployException e) when (e is UsageException or Deploy.Core.Engine.UnknownTargetException)
    {
        Console.Error.WriteLine("error: " + e.Message);
        return ExitCodes.Usage;
    }
    catch (DeployException e)
    {
        Console.Error.WriteLine("error: " + (app?.Redact(e.Message) ?? e.Message));
        return ExitCodes.Failed;
    }
    catch (OperationCanceledException)
    {
        Console.Error.WriteLine("error: cancelled: what was applied is recorded in the state; run the verb again to finish");
        return ExitCodes.Failed;
    }
    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
    {
        // a file of the project or an --out folder that cannot be read or written: its message names it
        Console.Error.WriteLine("error: " + (app?.Redact(e.Message) ?? e.Message));
        return ExitCodes.Failed;
    }
    catch (Exception e)
    {
        // a defect, not a user error: still one line (the trace with -v), never a secret
        Console.Error.WriteLine($"error: internal error ({e.GetType().Name}): " + (app?.Redact(e.Message) ?? e.Message) +
            (r.GetValue(verboseOpt) ? "\n" + (app?.Redact(e.ToString()) ?? e.ToString()) : " (run with -v for details)"));
        return ExitCodes.Failed;
    }
}
