using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Serialization;
using Deploy.Core.Model;
using Deploy.Core.Transport;

namespace Deploy.Transport.Persist;

/// <summary>What a client asks the broker: <c>connect</c> (once, first), then <c>run</c> and <c>cancel</c>; or, on a
/// connection of their own, <c>key-get</c> and <c>key-put</c> (a stack's derived secrets key).</summary>
/// <param name="Id">The client's number for the request; the reply carries it.</param>
/// <param name="Op">connect, run or cancel.</param>
/// <param name="Connection">For connect: the host to reach.</param>
/// <param name="KnownHostsFile">For connect: the known_hosts file that pins the host's key.</param>
/// <param name="Script">For run: the script.</param>
/// <param name="Cancels">For cancel: the id of the run to cancel.</param>
/// <param name="KeyId">For key-get and key-put: where the key is kept.</param>
/// <param name="Key">For key-put: the key (base64).</param>
internal sealed record PersistRequest(
    int Id, string Op, HostConnection? Connection = null, string? KnownHostsFile = null, string? Script = null, int Cancels = 0,
    string? KeyId = null, string? Key = null);

/// <summary>The broker's answer to one request: a script's result, or an error of one of the kinds the connector throws.</summary>
internal sealed record PersistReply(int Id, int Exit = 0, string? Stdout = null, string? Stderr = null,
    string? Error = null, string? Host = null, string? Message = null, bool Reused = false, string? Key = null)
{
    public const string Unreachable = "unreachable";
    public const string HostKey = "host-key";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static PersistReply From(int id, Exception error) => error switch
    {
        OperationCanceledException => new(id, Error: Cancelled, Message: "cancelled"),
        HostUnreachableException e => new(id, Error: Unreachable, Host: e.Host, Message: e.Message),
        HostKeyMismatchException e => new(id, Error: HostKey, Host: e.Host, Message: e.Message),
        _ => new(id, Error: Failed, Message: error.Message),
    };

    /// <summary>The exception the direct connector would have thrown, with the same message.</summary>
    public Exception ToException(string host) => Error switch
    {
        Cancelled => new OperationCanceledException(Message),
        Unreachable => new HostUnreachableException(Host ?? host, Strip(Message, $"host {Host ?? host}: unreachable: ")),
        HostKey => HostKeyMismatchException.Refused(Host ?? host, Message ?? "SSH host key changed"),
        _ => new DeployException(Message ?? "the SSH broker failed"),
    };

    private static string Strip(string? message, string prefix) =>
        message is null ? "the SSH broker gave no reason" : message.StartsWith(prefix, StringComparison.Ordinal) ? message[prefix.Length..] : message;
}

/// <summary>The protocol's messages in JSON, by generated code: a run that talks to the broker compiles no serializer
/// at start-up.</summary>
[JsonSerializable(typeof(PersistRequest))]
[JsonSerializable(typeof(PersistReply))]
internal sealed partial class PersistJson : JsonSerializerContext;

/// <summary>Frames on the broker's socket: a 4-byte big-endian length, then that many bytes of JSON.</summary>
internal static class PersistFrames
{
    /// <summary>Largest frame accepted (a file's content travels in one).</summary>
    public const int MaxFrame = 256 << 20;

    public static async Task WriteAsync<T>(Stream stream, T message, SemaphoreSlim gate, CancellationToken ct)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(message, typeof(T), PersistJson.Default);
        var frame = new byte[4 + body.Length];
        BinaryPrimitives.WriteInt32BigEndian(frame, body.Length);
        body.CopyTo(frame, 4);
        await gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            await stream.WriteAsync(frame, ct).ConfigureAwait(false);
            await stream.FlushAsync(ct).ConfigureAwait(false);
        }
        finally { gate.Release(); }
    }

    /// <summary>The next message, or null at the end of the stream.</summary>
    public static async Task<T?> ReadAsync<T>(Stream stream, CancellationToken ct) where T : class
    {
        var head = new byte[4];
        if (!await FillAsync(stream, head, ct).ConfigureAwait(false)) return null;
        var length = BinaryPrimitives.ReadInt32BigEndian(head);
        if (length is < 0 or > MaxFrame) throw new InvalidDataException($"SSH broker frame of {length} bytes");
        var body = new byte[length];
        if (!await FillAsync(stream, body, ct).ConfigureAwait(false)) throw new EndOfStreamException("SSH broker frame cut short");
        return (T?)JsonSerializer.Deserialize(body, typeof(T), PersistJson.Default);
    }

    private static async Task<bool> FillAsync(Stream stream, byte[] buffer, CancellationToken ct)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(read), ct).ConfigureAwait(false);
            if (n == 0) return read == 0 && buffer.Length > 0 ? false : throw new EndOfStreamException("SSH broker frame cut short");
            read += n;
        }
        return true;
    }
}
