using System.ComponentModel;
using System.Text;
using CliWrap;
using Deploy.Core.Model;
using Deploy.Core.Transport;

namespace Deploy.Transport;

/// <summary>
/// Runs a program on the controller (CliWrap) and captures what it printed. A non-zero exit is a result, not an
/// error; a program that cannot be started is a <see cref="DeployException"/>. Cancellation kills the process tree.
/// </summary>
/// <param name="workingDirectory">Working directory of the processes; the current one when null.</param>
/// <param name="environment">Variables to set (a null value removes the variable).</param>
public sealed class LocalCommand(string? workingDirectory = null, IReadOnlyDictionary<string, string?>? environment = null)
{
    public async Task<ExecResult> RunAsync(string program, IReadOnlyList<string> arguments, CancellationToken ct, string? standardInput = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(program);
        ArgumentNullException.ThrowIfNull(arguments);
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var command = Cli.Wrap(program)
            .WithArguments(arguments)
            .WithValidation(CommandResultValidation.None)
            .WithStandardInputPipe(standardInput is null ? PipeSource.Null : PipeSource.FromString(standardInput, ScriptEnvelope.Utf8))
            .WithStandardOutputPipe(PipeTarget.ToStringBuilder(stdout, ScriptEnvelope.Utf8))
            .WithStandardErrorPipe(PipeTarget.ToStringBuilder(stderr, ScriptEnvelope.Utf8));
        if (workingDirectory is not null)
            command = command.WithWorkingDirectory(workingDirectory);
        if (environment is { Count: > 0 })
            command = command.WithEnvironmentVariables(environment);
        try
        {
            var result = await command.ExecuteAsync(ct).ConfigureAwait(false);
            return new ExecResult(result.ExitCode, stdout.ToString(), stderr.ToString());
        }
        catch (Exception e) when (e is Win32Exception || e.InnerException is Win32Exception)
        {
            throw new DeployException($"cannot run {program}: {(e.InnerException ?? e).Message}", e);
        }
    }
}
