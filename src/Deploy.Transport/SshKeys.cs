using System.Security.Cryptography;
using Deploy.Core.Model;
using Deploy.Core.Transport;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace Deploy.Transport;

/// <summary>The keys one endpoint offers, in order, and what to say about them when the server accepts none.</summary>
internal sealed record SshKeySet(IReadOnlyList<IPrivateKeySource> Sources, string Description) : IDisposable
{
    public void Dispose()
    {
        foreach (var disposable in Sources.OfType<IDisposable>())
            disposable.Dispose();
    }
}

/// <summary>
/// Finds the keys to offer, as OpenSSH does: the configured key file (decrypted with its passphrase from an environment
/// variable or a file), then the ssh-agent's keys; with no key file configured, the agent's keys and then the user's
/// default key files that exist.
/// </summary>
internal static class SshKeys
{
    public static async Task<SshKeySet> LoadAsync(string host, SshEndpoint endpoint, SshConnectOptions options, CancellationToken ct)
    {
        var sources = new List<IPrivateKeySource>();
        var described = new List<string>();
        var agent = endpoint.UseAgent && !string.IsNullOrEmpty(options.AgentSocket) ? new SshAgent(options.AgentSocket) : null;
        try
        {
            var skippedForAgent = false;
            if (endpoint.KeyFile is { } keyFile)
            {
                var key = await LoadFileAsync(host, keyFile, endpoint.Passphrase, agentMayHoldIt: agent is not null, ct)
                    .ConfigureAwait(false);
                if (key is not null)
                {
                    sources.Add(key);
                    described.Add($"key {keyFile}");
                }
                else skippedForAgent = true;
            }
            var agentRequired = sources.Count == 0 && endpoint.KeyFile is not null;
            var agentKeys = agent is null ? [] : await AgentKeysAsync(host, agent, agentRequired, ct).ConfigureAwait(false);
            if (agentKeys.Count > 0)
            {
                sources.AddRange(agentKeys);
                described.Add($"the ssh-agent's {agentKeys.Count} key{(agentKeys.Count == 1 ? "" : "s")}");
            }
            if (endpoint.KeyFile is null)
                foreach (var path in options.DefaultKeyFiles.Where(File.Exists))
                {
                    var key = await LoadFileAsync(host, path, passphrase: null, agentMayHoldIt: true, ct).ConfigureAwait(false);
                    if (key is null) continue;
                    sources.Add(key);
                    described.Add($"key {path}");
                }
            if (sources.Count == 0)
                throw new DeployException(skippedForAgent
                    ? $"host {host}: SSH key {endpoint.KeyFile} is protected by a passphrase and the ssh-agent does not hold it: " +
                      "add it with ssh-add, or name where its passphrase is with ssh: key_passphrase_env or key_passphrase_file"
                    : $"host {host}: no SSH key to offer: set ssh: key in the inventory (or IdentityFile in ~/.ssh/config), " +
                      (agent is null ? "or start an ssh-agent (SSH_AUTH_SOCK is not set)"
                          : "or add a key to the ssh-agent (it holds none)"));
            return new SshKeySet(sources, string.Join(" and ", described));
        }
        catch
        {
            new SshKeySet(sources, "").Dispose();
            throw;
        }
    }

    private static async Task<IReadOnlyList<IPrivateKeySource>> AgentKeysAsync(string host, SshAgent agent, bool required,
        CancellationToken ct)
    {
        try
        {
            return await agent.IdentitiesAsync(ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException && !required)
        {
            return []; // an agent that is gone (a stale SSH_AUTH_SOCK) is no reason to fail while there are other keys
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
        {
            throw new DeployException($"host {host}: cannot ask the ssh-agent at {agent.SocketPath} for keys: {e.Message}", e);
        }
    }

    /// <summary>Reads a key file; null when it needs a passphrase none was configured for and an agent may hold it.</summary>
    private static async Task<PrivateKeyFile?> LoadFileAsync(string host, string path, SshKeyPassphrase? passphrase, bool agentMayHoldIt,
        CancellationToken ct)
    {
        byte[] bytes;
        try
        {
            bytes = await File.ReadAllBytesAsync(path, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new DeployException($"host {host}: cannot read SSH key {path}: {e.Message}", e);
        }
        var phrase = passphrase is null ? null : await ReadPassphraseAsync(host, path, passphrase, ct).ConfigureAwait(false);
        try
        {
            return new PrivateKeyFile(new MemoryStream(bytes, writable: false), phrase);
        }
        catch (SshPassPhraseNullOrEmptyException) when (agentMayHoldIt)
        {
            return null;
        }
        catch (SshPassPhraseNullOrEmptyException e)
        {
            throw new DeployException($"host {host}: SSH key {path} is protected by a passphrase: name where it is with " +
                "ssh: key_passphrase_env (an environment variable) or key_passphrase_file, or add the key to an ssh-agent", e);
        }
        catch (Exception e) when (IsKeyFormatError(e) && passphrase is not null)
        {
            throw new DeployException($"host {host}: cannot read SSH key {path} with the passphrase from {passphrase.Source}: " +
                $"wrong passphrase, or not a usable private key ({e.Message})", e);
        }
        catch (Exception e) when (IsKeyFormatError(e))
        {
            throw new DeployException($"host {host}: cannot read SSH key {path}: not a usable private key ({e.Message})", e);
        }
    }

    private static bool IsKeyFormatError(Exception e) => e is SshException or ArgumentException or FormatException
        or InvalidOperationException or NotSupportedException or CryptographicException or IndexOutOfRangeException or EndOfStreamException;

    private static async Task<string> ReadPassphraseAsync(string host, string path, SshKeyPassphrase passphrase, CancellationToken ct)
    {
        if (passphrase.EnvironmentVariable is { } name)
        {
            var value = Environment.GetEnvironmentVariable(name);
            return string.IsNullOrEmpty(value)
                ? throw new DeployException(
                    $"host {host}: SSH key {path} needs its passphrase from environment variable {name}, which is not set")
                : value;
        }
        try
        {
            var text = await File.ReadAllTextAsync(passphrase.File!, ct).ConfigureAwait(false);
            // the file's one line, as `ssh-add` reads a passphrase: a final newline is not part of it
            return text.TrimEnd('\r', '\n') is { Length: > 0 } phrase
                ? phrase
                : throw new DeployException($"host {host}: SSH key {path}: the passphrase file {passphrase.File} is empty");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DeployException($"host {host}: SSH key {path}: cannot read the passphrase file {passphrase.File}: {e.Message}", e);
        }
    }
}
