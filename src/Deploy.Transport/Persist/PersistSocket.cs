using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Deploy.Transport.Persist;

/// <summary>
/// Where the broker listens and who may talk to it. The socket lives in a folder only its user can enter
/// (<c>$XDG_RUNTIME_DIR/nf-deploy</c>, else <c>/tmp/nf-deploy-&lt;uid&gt;</c>, mode 0700), and both ends check the
/// other's user with SO_PEERCRED: the broker serves only its own user, and a client talks only to a broker of its own
/// user (a socket planted by someone else in a shared /tmp would otherwise receive the scripts and their secrets).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public static partial class PersistSocket
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();

    /// <summary>This process's effective user id.</summary>
    public static uint CurrentUser => GetEffectiveUserId();

    /// <summary>The socket's path for this build of nf-deploy (a new build starts a new broker), or why there is none.</summary>
    public static (string? Path, string? Problem) Locate()
    {
        var runtime = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        var dir = !string.IsNullOrEmpty(runtime) && Path.IsPathRooted(runtime)
            ? Path.Combine(runtime, "nf-deploy")
            : $"/tmp/nf-deploy-{CurrentUser}";
        var problem = EnsurePrivateDirectory(dir);
        var build = typeof(PersistSocket).Assembly.ManifestModule.ModuleVersionId.ToString("N")[..12];
        return problem is null ? (Path.Combine(dir, $"ssh-{build}.sock"), null) : (null, problem);
    }

    /// <summary>Creates the folder with mode 0700, or says why an existing one will not do (another owner, other modes).</summary>
    public static string? EnsurePrivateDirectory(string dir)
    {
        try
        {
            if (!Directory.Exists(dir)) Directory.CreateDirectory(dir, OwnerOnly);
            var info = new DirectoryInfo(dir);
            if (info.LinkTarget is not null) return $"{dir} is a symbolic link";
            if ((info.UnixFileMode & ~OwnerOnly) != 0) return $"{dir} may be entered by other users (mode {Octal(info.UnixFileMode)}, not 0700)";
            return OwnerOf(dir) == CurrentUser ? null : $"{dir} belongs to another user";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"{dir}: {e.Message}";
        }
    }

    /// <summary>The user id of the process at the other end of a connected Unix socket.</summary>
    public static uint PeerUser(Socket socket)
    {
        Span<byte> cred = stackalloc byte[12]; // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
        var length = socket.GetRawSocketOption(SolSocket, SoPeerCred, cred);
        if (length < 8) throw new IOException("SO_PEERCRED gave no user");
        return MemoryMarshal.Read<uint>(cred[4..8]);
    }

    /// <summary>The owner of a file (statx, not following a link), or <see cref="uint.MaxValue"/> when it cannot be read.</summary>
    private static uint OwnerOf(string path)
    {
        var result = StatX(-100 /* AT_FDCWD */, path, 0x100 /* AT_SYMLINK_NOFOLLOW */, 0x8 /* STATX_UID */, out var buffer);
        return result == 0 ? buffer.Uid : uint.MaxValue;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct StatxBuffer
    {
        public uint Mask;
        public uint BlockSize;
        public ulong Attributes;
        public uint Links;
        public uint Uid;
        public uint Gid;
        public ushort Mode;
        private ushort _pad;
        public ulong Inode;
        public ulong Size;
        public ulong Blocks;
        public ulong AttributesMask;

        [System.Runtime.CompilerServices.InlineArray(200)]
        public struct Rest { private byte _first; }

        public Rest Tail;
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatX(int dirFd, string path, int flags, uint mask, out StatxBuffer buffer);

    private static string Octal(UnixFileMode mode) => Convert.ToString((int)mode, 8).PadLeft(4, '0');
}
