using System.Text;

namespace Deploy.Transport;

/// <summary>Writing the known_hosts file: atomically (temp file with the file's mode, flushed, renamed over it).</summary>
public sealed partial class KnownHosts
{
    // ---- writing ----

    private string NewTempPath()
    {
        var dir = System.IO.Path.GetDirectoryName(Path)!;
        Directory.CreateDirectory(dir);
        return System.IO.Path.Combine(dir, $".{System.IO.Path.GetFileName(Path)}.{Guid.NewGuid():N}.tmp");
    }

    private FileStreamOptions TempFileOptions()
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = File.Exists(Path)
                ? File.GetUnixFileMode(Path)
                : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        return options;
    }

    private static string Render(IEnumerable<string> lines)
    {
        var sb = new StringBuilder();
        foreach (var l in lines)
            sb.Append(l).Append('\n');
        return sb.ToString();
    }

    private async Task WriteAtomicallyAsync(IEnumerable<string> lines, CancellationToken ct)
    {
        var tmp = NewTempPath();
        try
        {
            var fs = new FileStream(tmp, TempFileOptions());
            await using (fs.ConfigureAwait(false))
            {
                await fs.WriteAsync(ScriptEnvelope.Utf8.GetBytes(Render(lines)), ct).ConfigureAwait(false);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, Path, overwrite: true);
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
    }

    private void WriteAtomically(IEnumerable<string> lines)
    {
        var tmp = NewTempPath();
        try
        {
            using (var fs = new FileStream(tmp, TempFileOptions()))
            {
                fs.Write(ScriptEnvelope.Utf8.GetBytes(Render(lines)));
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, Path, overwrite: true);
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
