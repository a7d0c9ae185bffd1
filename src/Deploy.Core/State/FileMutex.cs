using Deploy.Core.Model;

namespace Deploy.Core.State;

/// <summary>
/// One writer at a time for a file that is read, changed and written back (the stack file and its salt, the state):
/// an exclusive flock on a sidecar file, held while it is open (.NET takes the flock for FileShare.None on Unix; it
/// holds between processes and between threads of one process). The sidecars live in <c>.nf-deploy/locks/</c> and are
/// never deleted (deleting a flocked file lets a second writer lock a new one).
/// </summary>
public sealed class FileMutex : IDisposable
{
    private readonly FileStream _stream;

    private FileMutex(FileStream stream) => _stream = stream;

    public static string PathFor(string projectDir, string name) => Path.Combine(projectDir, ".nf-deploy", "locks", name + ".lock");

    /// <summary>Waits (up to <paramref name="timeout"/>, 30 s by default) for the lock named <paramref name="name"/>.</summary>
    public static FileMutex Acquire(string projectDir, string name, CancellationToken ct = default, TimeSpan? timeout = null)
    {
        var path = PathFor(projectDir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            try
            {
                var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
                if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
                return new FileMutex(new FileStream(path, options));
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(Random.Shared.Next(5, 25));
            }
            catch (IOException e)
            {
                throw new DeployException($"{Path.GetRelativePath(projectDir, path)} stayed locked by another nf-deploy process for {(timeout ?? TimeSpan.FromSeconds(30)).TotalSeconds:0} s", e);
            }
        }
    }

    public void Dispose() => _stream.Dispose();
}
