using Deploy.Core.Model;

namespace Deploy.Lab;

/// <summary>An exclusive lock between processes on this machine, held while the file stays open
/// (.NET takes an advisory flock for FileShare.None on Unix).</summary>
internal sealed class FileLock : IAsyncDisposable
{
    private readonly FileStream _stream;

    private FileLock(FileStream stream) => _stream = stream;

    public static async Task<FileLock> AcquireAsync(string path, TimeSpan timeout, Action<string> waiting, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var deadline = DateTime.UtcNow + timeout;
        var told = false;
        while (true)
        {
            try
            {
                return new FileLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                if (!told)
                {
                    waiting($"waiting for {path} (another nf-deploy process holds it)");
                    told = true;
                }
                await Task.Delay(TimeSpan.FromSeconds(1), ct);
            }
            catch (IOException e)
            {
                throw new DeployException($"{path} stayed locked for {timeout.TotalSeconds:0} s by another process", e);
            }
        }
    }

    public ValueTask DisposeAsync() => _stream.DisposeAsync();
}
