using System.Collections.Concurrent;
using System.Collections.Immutable;
using Deploy.Core.Model;
using Deploy.Core.Resources;

namespace Deploy.Site.Compile;

/// <summary>A problem a lint found in rendered content: the line of the content (1-based, 0 unknown) and what is wrong.</summary>
public sealed record LintProblem(int Line, string Message);

/// <summary>A check of a file's rendered content (<c>lint:</c> of a file in nf.yaml), made on the controller.</summary>
public interface ILint
{
    /// <summary>The value of <c>lint:</c> that asks for it.</summary>
    string Name { get; }

    /// <summary>What it requires, for the error that lists the lints (<c>the content must compile with python3</c>).</summary>
    string Requires { get; }

    /// <returns>Null when the content passes.</returns>
    /// <param name="name">The file's name, for the lint's own messages.</param>
    LintProblem? Check(string name, string content, CancellationToken ct);
}

/// <summary>
/// The registry of lints: checks of rendered content made on the controller when the site is compiled, before any host
/// is touched. A new lint is a class of <see cref="ILint"/> and its line in <see cref="All"/>. Results are kept per content.
/// </summary>
public static class Lint
{
    /// <summary>Every lint, in the order the error for an unknown one lists them.</summary>
    public static ImmutableArray<ILint> All { get; } =
    [
        new PythonLint(),
    ];

    private static readonly ConcurrentDictionary<string, LintProblem?> Cache = new();

    public static ILint? Find(string name) => All.FirstOrDefault(lint => lint.Name == name);

    /// <summary>The error for a <c>lint:</c> that names no lint, listing those there are.</summary>
    public static string Unknown(string name) =>
        $"unknown lint '{name}' ({string.Join(", ", All.Select(lint => $"{lint.Name}: {lint.Requires}"))})";

    /// <returns>Null when the content passes.</returns>
    /// <exception cref="DeployException">The lint is unknown, or cannot run (python3 is not on the controller).</exception>
    public static LintProblem? Check(string kind, string name, string content, CancellationToken ct)
    {
        var lint = Find(kind) ?? throw new DeployException($"unknown lint '{kind}'");
        return Cache.GetOrAdd($"{lint.Name}:{Hashing.Sha256Hex(content)}", _ => lint.Check(name, content, ct));
    }
}
