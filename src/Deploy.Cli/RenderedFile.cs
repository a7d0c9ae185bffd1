using System.Text;
using Deploy.Core.Resources;
using Deploy.Resources;

namespace Deploy.Cli;

/// <summary>A file written by <c>render --out</c>: a secret file (a private key, a config holding a password) or one
/// the host keeps from others is written 0600, created so from the start (never readable by others, not even while it
/// is being written).</summary>
internal static class RenderedFile
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public static bool IsPrivate(FileSpec f) => f.Secret || f.Mode.Length == 0 || f.Mode[^1] is '0' or '1';

    public static async Task WriteAsync(string target, FileSpec f, CancellationToken ct)
    {
        var bytes = new UTF8Encoding(false).GetBytes(f.Block is null ? f.Content : f.BlockText);
        if (!IsPrivate(f) || OperatingSystem.IsWindows())
        {
            await File.WriteAllBytesAsync(target, bytes, ct);
            return;
        }
        if (File.Exists(target)) File.SetUnixFileMode(target, Private); // an earlier render's copy: closed before rewriting
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = Private };
        await using var stream = new FileStream(target, options);
        await stream.WriteAsync(bytes, ct);
    }
}
