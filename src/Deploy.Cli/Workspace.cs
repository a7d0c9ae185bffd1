using Deploy.Core.Model;
using Deploy.Site.Model;

namespace Deploy.Cli;

/// <summary>The project folder (where Pulumi.yaml is) and the controller-side files nf-deploy keeps in it.</summary>
public sealed record Workspace(string ProjectDir)
{
    /// <summary>From an explicit folder, or the current folder and its parents.</summary>
    public static Workspace Find(string? explicitDir)
    {
        var dir = Path.GetFullPath(explicitDir ?? Environment.GetEnvironmentVariable("NF_DEPLOY_PROJECT") ?? Directory.GetCurrentDirectory());
        for (var d = dir; d is not null; d = Path.GetDirectoryName(d))
            if (File.Exists(Path.Combine(d, ProjectFile.FileName))) return new Workspace(d);
        throw new DeployException($"no {ProjectFile.FileName} in {dir} or its parents: run ./deploy from the nf-deploy project (or pass --cwd)");
    }

    /// <summary>The passphrase of the stacks' secrets: PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE, as Pulumi.</summary>
    public Func<string?> Passphrase { get; init; } = Site.Secrets.PassphraseCrypter.PassphraseFromEnvironment;

    public string DataDir => Path.Combine(ProjectDir, ".nf-deploy");
    public string KnownHostsFile => Path.Combine(DataDir, "known_hosts");
    public string KeyCacheDir => Path.Combine(DataDir, "cache", "keys");

    /// <summary>Runs' log files: <c>logs/&lt;stack&gt;/&lt;run&gt;/&lt;host&gt;.log</c>.</summary>
    public string LogsDir => Path.Combine(DataDir, "logs");
}
