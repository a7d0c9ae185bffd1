namespace Deploy.Core.Secrets;

/// <summary>
/// Keeps a stack's derived secrets key between runs, as ssh-agent keeps keys: the user's SSH broker when connections
/// are kept (<c>NF_DEPLOY_SSH_PERSIST</c>), so that a repeat run skips the passphrase's million PBKDF2 rounds. Entries
/// are found by an id only the passphrase and the stack's salt give. A cache that fails is a miss, never an error.
/// </summary>
public interface IDerivedKeyCache
{
    /// <summary>The key kept under <paramref name="id"/>, or null.</summary>
    Task<byte[]?> GetAsync(string id, CancellationToken ct);

    /// <summary>Keeps <paramref name="key"/> under <paramref name="id"/> (a key that has opened its stack's check); may
    /// return before the key is kept.</summary>
    Task PutAsync(string id, byte[] key, CancellationToken ct);
}
