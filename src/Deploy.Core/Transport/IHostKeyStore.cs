namespace Deploy.Core.Transport;

/// <summary>The pinned SSH host keys. Lab hosts that are destroyed or created anew get new keys, so their pins are dropped.</summary>
public interface IHostKeyStore
{
    void Forget(string address, int port);
}
