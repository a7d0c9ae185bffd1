using Deploy.Core.Model;
using Deploy.Core.State;
using Deploy.Site.Model;
using Deploy.Site.Yaml;
using Deploy.State.Postgres;

namespace Deploy.Cli;

/// <summary>
/// Picks the state backend as Pulumi does: <c>PULUMI_BACKEND_URL</c>, else <c>backend: url:</c> in Pulumi.yaml, else
/// the project folder. <c>file://&lt;dir&gt;</c> keeps <c>.pulumi/</c> under that folder; <c>postgres://</c> a database.
/// </summary>
public static class StateBackends
{
    public const string EnvVar = "PULUMI_BACKEND_URL";

    public static IStateBackend Open(Workspace ws)
    {
        var (url, project) = Configured(ws.ProjectDir);
        if (string.IsNullOrWhiteSpace(url)) return new FileBackend(ws.ProjectDir);
        if (PostgresUrl.Matches(url)) return new PostgresBackend(PostgresUrl.Parse(url), project);
        if (url.StartsWith("file://", StringComparison.Ordinal))
        {
            var path = url["file://".Length..];
            path = path == "~" || path.StartsWith("~/", StringComparison.Ordinal)
                ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path.TrimStart('~').TrimStart('/'))
                : Path.GetFullPath(path.Length == 0 ? "." : path, ws.ProjectDir);
            return new FileBackend(path, "file://" + path);
        }
        var scheme = url.Split("://")[0];
        throw new DeployException($"backend URL scheme '{scheme}://' is not supported: use file://<folder> or postgres://user@host:port/database");
    }

    /// <summary>The configured URL and the project's name; Pulumi.yaml is read leniently (its errors are reported by the verb).</summary>
    private static (string? Url, string Project) Configured(string projectDir)
    {
        string? fromFile = null;
        var project = "nf-deploy";
        try
        {
            var y = YamlFile.Load(Path.Combine(projectDir, ProjectFile.FileName), projectDir);
            project = y.Str(y.Root, "name") ?? project;
            if (y.Map(y.Root, "backend") is { } b) fromFile = y.Str(b, "url");
        }
        catch (DeployException) { }
        var env = Environment.GetEnvironmentVariable(EnvVar);
        return (string.IsNullOrWhiteSpace(env) ? fromFile : env, project);
    }
}
