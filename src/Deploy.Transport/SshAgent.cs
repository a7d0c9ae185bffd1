using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Renci.SshNet;
using Renci.SshNet.Security;

namespace Deploy.Transport;

/// <summary>
/// A client of ssh-agent (draft-miller-ssh-agent) over its Unix socket (<c>SSH_AUTH_SOCK</c>): lists the keys it holds
/// and has it sign the authentication challenge, so private keys (and their passphrases) never enter this process.
/// SSH.NET has no agent client; <see cref="Identities"/> plug into its <see cref="PrivateKeyAuthenticationMethod"/>.
/// Each request opens its own connection to the agent (requests are few: one list and one signature per connection).
/// </summary>
internal sealed class SshAgent(string socketPath)
{
    private const byte Failure = 5;
    private const byte RequestIdentities = 11;
    private const byte IdentitiesAnswer = 12;
    private const byte SignRequest = 13;
    private const byte SignResponse = 14;
    private const uint RsaSha2With256 = 2;
    private const uint RsaSha2With512 = 4;
    private const int MaxMessage = 256 * 1024;

    public string SocketPath { get; } = socketPath;

    /// <summary>The keys the agent holds, as SSH.NET key sources (an RSA key offers rsa-sha2-512, then rsa-sha2-256).</summary>
    public async Task<IReadOnlyList<IPrivateKeySource>> IdentitiesAsync(CancellationToken ct)
    {
        var reply = await Task.Run(() => Request([RequestIdentities]), ct).ConfigureAwait(false);
        if (reply.Length == 0 || reply[0] != IdentitiesAnswer)
            throw new IOException($"ssh-agent at {SocketPath} did not list its keys " +
                $"(reply type {(reply.Length == 0 ? "none" : reply[0])})");
        var reader = new AgentReader(reply, 1);
        var count = reader.UInt32();
        var sources = new List<IPrivateKeySource>();
        for (var index = 0; index < count; index++)
        {
            var blob = reader.Bytes();
            var comment = Encoding.UTF8.GetString(reader.Bytes());
            var keyType = SshHostConnector.KeyTypeOfBlob(blob);
            if (keyType is null)
                continue;
            HostAlgorithm[] algorithms = keyType == "ssh-rsa"
                ? [new AgentKey(this, "rsa-sha2-512", blob, RsaSha2With512), new AgentKey(this, "rsa-sha2-256", blob, RsaSha2With256)]
                : [new AgentKey(this, keyType, blob, 0)];
            sources.Add(new AgentKeySource(algorithms, comment));
        }
        return sources;
    }

    /// <summary>Has the agent sign <paramref name="data"/> with the key <paramref name="blob"/>; returns the SSH signature blob.</summary>
    private byte[] Sign(byte[] blob, byte[] data, uint flags)
    {
        var message = new List<byte> { SignRequest };
        AppendBytes(message, blob);
        AppendBytes(message, data);
        AppendUInt32(message, flags);
        var reply = Request([.. message]);
        if (reply.Length == 0 || reply[0] == Failure || reply[0] != SignResponse)
            throw new IOException($"ssh-agent at {SocketPath} refused to sign with the key (confirmation denied, or the key was removed)");
        return new AgentReader(reply, 1).Bytes();
    }

    private byte[] Request(byte[] message)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.ReceiveTimeout = socket.SendTimeout = 30_000;
        socket.Connect(new UnixDomainSocketEndPoint(SocketPath));
        using var stream = new NetworkStream(socket, ownsSocket: false);
        var header = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(header, (uint)message.Length);
        stream.Write(header);
        stream.Write(message);
        stream.ReadExactly(header);
        var length = BinaryPrimitives.ReadUInt32BigEndian(header);
        if (length > MaxMessage)
            throw new IOException($"ssh-agent at {SocketPath} sent a reply of {length} bytes");
        var reply = new byte[length];
        stream.ReadExactly(reply);
        return reply;
    }

    private static void AppendUInt32(List<byte> message, uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        message.AddRange(bytes);
    }

    private static void AppendBytes(List<byte> message, byte[] value)
    {
        AppendUInt32(message, (uint)value.Length);
        message.AddRange(value);
    }

    private struct AgentReader(byte[] buffer, int offset)
    {
        private int _offset = offset;

        public uint UInt32()
        {
            if (buffer.Length - _offset < 4)
                throw new IOException("truncated reply from ssh-agent");
            var value = BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(_offset));
            _offset += 4;
            return value;
        }

        public byte[] Bytes()
        {
            var length = UInt32();
            if (length > buffer.Length - _offset)
                throw new IOException("truncated reply from ssh-agent");
            var value = buffer.AsSpan(_offset, (int)length).ToArray();
            _offset += (int)length;
            return value;
        }
    }

    /// <summary>One agent key under one signature algorithm; signing asks the agent.</summary>
    private sealed class AgentKey(SshAgent agent, string algorithm, byte[] blob, uint flags) : HostAlgorithm(algorithm)
    {
        public override byte[] Data => blob;

        public override byte[] Sign(byte[] data) => agent.Sign(blob, data, flags);

        public override bool VerifySignature(byte[] data, byte[] signature) =>
            throw new NotSupportedException("agent keys only sign");
    }

    private sealed class AgentKeySource(IReadOnlyCollection<HostAlgorithm> algorithms, string comment) : IPrivateKeySource
    {
        public IReadOnlyCollection<HostAlgorithm> HostKeyAlgorithms => algorithms;

        public override string ToString() => comment;
    }
}
