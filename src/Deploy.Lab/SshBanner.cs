using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Deploy.Lab;

/// <summary>Waits until an sshd answers: a TCP connection to port 22 that sends an "SSH-" banner line.</summary>
internal static class SshBanner
{
    public const int Port = 22;

    /// <summary>The banner line, e.g. "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6"; null if none came in time.</summary>
    public static async Task<string?> ReadAsync(IPAddress address, TimeSpan timeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            using var client = new TcpClient(AddressFamily.InterNetwork);
            await client.ConnectAsync(address, Port, cts.Token);
            var stream = client.GetStream();
            var line = new StringBuilder();
            var buffer = new byte[256];
            while (line.Length < 1024)
            {
                var n = await stream.ReadAsync(buffer, cts.Token);
                if (n == 0)
                    break;
                line.Append(Encoding.ASCII.GetString(buffer, 0, n));
                var eol = line.ToString().IndexOf('\n');
                if (eol >= 0)
                    return line.ToString(0, eol).TrimEnd('\r');
            }
            return null;
        }
        catch (Exception e) when (e is SocketException or IOException
                                       || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            return null;
        }
    }

    /// <summary>Polls until sshd on <paramref name="address"/> answers with an SSH banner, or the timeout passes.</summary>
    public static async Task<bool> WaitAsync(IPAddress address, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
                return false;
            var banner = await ReadAsync(address, left < TimeSpan.FromSeconds(3) ? left : TimeSpan.FromSeconds(3), ct);
            if (banner?.StartsWith("SSH-", StringComparison.Ordinal) == true)
                return true;
            await Task.Delay(TimeSpan.FromMilliseconds(250), ct);
        }
    }
}
