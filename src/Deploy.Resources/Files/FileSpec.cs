using System.Collections.Immutable;
using Deploy.Core.Resources;

namespace Deploy.Resources;

/// <summary>A file with exact content, compared by SHA-256. With <see cref="Block"/>, only a marked block inside
/// the file is managed (like Ansible's blockinfile) and the file is edited in place.</summary>
/// <param name="Validate">Shell command run on the new content before it replaces the old; <c>%s</c> is the
/// temporary file's path. Non-zero exit keeps the old file.</param>
/// <param name="Secret">Content never printed in diffs or logs.</param>
public sealed record FileSpec(string Path, string Content, string User, string Group, string Mode) : ResourceSpec, INotifying
{
    public string? Validate { get; init; }
    public string? Block { get; init; }
    public bool Backup { get; init; } = true;
    public bool Secret { get; init; }

    /// <summary>Backups of the file kept on the host (the newest ones; this run's always).</summary>
    public int BackupKeep { get; init; } = 3;

    /// <summary>Backups older than this are removed (but this run's).</summary>
    public int BackupMaxAgeDays { get; init; } = 30;

    /// <summary>Keys the content hash a secret file leaves in the state (the stack's own key): a config holding a password
    /// could otherwise be guessed from its hash.</summary>
    public string HashKey { get; init; } = "";

    /// <summary>The content hash as the state keeps it: keyed for a secret file, plain SHA-256 otherwise.</summary>
    public string StateHash(string sha256) => Secret && HashKey.Length > 0 ? Hashing.Keyed(sha256, HashKey) : sha256;

    /// <summary>Services (by resource name) to restart when this file changes.</summary>
    public ImmutableArray<string> Notify { get; init; } = [];

    /// <summary>Sub-kind for the type token: File, apt Key or apt Repository share the file mechanics.</summary>
    public string Kind { get; init; } = ResourceTypes.File;

    public override string Type => Kind;

    public override string DisplayName => Path;

    public override ImmutableSortedDictionary<string, string> Identity => Ids.Of(("path", Path), ("block", Block));

    public string Sha256 => Hashing.Sha256Hex(Block is null ? Content : BlockText);

    /// <summary>The block with its markers, as it appears in the file.</summary>
    public string BlockText => ManagedBlock.Text(Block ?? "", Content);
}
