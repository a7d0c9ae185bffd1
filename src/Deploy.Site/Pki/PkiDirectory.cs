using System.Text;
using Deploy.Core.Model;

namespace Deploy.Site.Pki;

/// <summary>
/// The stack's PKI directory on the controller (<c>.nf-deploy/pki/&lt;stack&gt;/</c>, 0700). One writer at a time: a
/// writer holds an exclusive advisory lock on <c>.lock</c> (.NET takes flock for FileShare.None on Unix) and writes
/// each file to a unique temp file that is flushed and renamed. Readers take the lock shared when the lock file exists,
/// so they never see a certificate without its key; they create nothing (read-only verbs write nothing).
/// </summary>
public sealed class PkiDirectory(string dir)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    public string Dir { get; } = dir;

    public string PathOf(string file) => Path.Combine(Dir, file);

    /// <summary>Reads under a shared lock (none when nobody ever wrote here). The lock is never created by a reader.</summary>
    public T Read<T>(Func<T> read)
    {
        var lockPath = PathOf(".lock");
        if (!File.Exists(lockPath)) return read();
        using var held = Acquire(() => new FileStream(lockPath, FileMode.Open, FileAccess.Read, FileShare.Read));
        return read();
    }

    /// <summary>Runs <paramref name="write"/> as the only writer (and with no reader) of the directory.</summary>
    public async Task WriteAsync(Action write, CancellationToken ct)
    {
        if (!Directory.Exists(Dir))
        {
            if (OperatingSystem.IsWindows()) Directory.CreateDirectory(Dir);
            else Directory.CreateDirectory(Dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        var lockPath = PathOf(".lock");
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            FileStream held;
            try { held = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), ct);
                continue;
            }
            catch (IOException e) { throw new DeployException($"{Dir} stayed locked for {Wait.TotalSeconds:0} s by another nf-deploy process", e); }
            using (held) write();
            return;
        }
    }

    private static FileStream Acquire(Func<FileStream> open)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            try { return open(); }
            catch (FileNotFoundException) { throw; }
            catch (IOException) when (DateTime.UtcNow < deadline) { Thread.Sleep(50); }
        }
    }

    /// <summary>Writes a file whole: a unique temp file beside it (0600 for secrets, 0644 otherwise), flushed, renamed.</summary>
    public void WriteFile(string file, string content, bool secret)
    {
        var path = PathOf(file);
        var tmp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = secret ? UnixFileMode.UserRead | UnixFileMode.UserWrite : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        try
        {
            using (var f = new FileStream(tmp, options))
            {
                f.Write(Encoding.ASCII.GetBytes(content));
                f.Flush(true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        finally { File.Delete(tmp); }
    }
}
