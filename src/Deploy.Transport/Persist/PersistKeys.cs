namespace Deploy.Transport.Persist;

/// <summary>
/// The derived secrets keys the broker keeps for its user's runs (<c>key-put</c>, <c>key-get</c>), as ssh-agent keeps
/// keys: in this process's memory only, for as long as the broker lives (its idle time), served on the socket only its
/// user can use. At most <see cref="Capacity"/> keys: the least recently used goes first.
/// </summary>
internal sealed class PersistKeys
{
    public const int Capacity = 16;

    private readonly LinkedList<(string Id, byte[] Key)> _keys = [];
    private readonly Lock _gate = new();

    /// <summary>The key kept under <paramref name="id"/> (base64), or null.</summary>
    public string? Get(string id)
    {
        lock (_gate)
        {
            for (var node = _keys.First; node is not null; node = node.Next)
            {
                if (node.Value.Id != id) continue;
                _keys.Remove(node);
                _keys.AddFirst(node);
                return Convert.ToBase64String(node.Value.Key);
            }
            return null;
        }
    }

    /// <summary>Keeps a key (base64; anything else is ignored) under <paramref name="id"/>.</summary>
    public void Put(string id, string key)
    {
        byte[] bytes;
        try { bytes = Convert.FromBase64String(key); }
        catch (FormatException) { return; }
        lock (_gate)
        {
            for (var node = _keys.First; node is not null; node = node.Next)
                if (node.Value.Id == id)
                {
                    Forget(node);
                    break;
                }
            _keys.AddFirst((id, bytes));
            while (_keys.Count > Capacity) Forget(_keys.Last!);
        }
    }

    /// <summary>Forgets every key, their bytes overwritten.</summary>
    public void Clear()
    {
        lock (_gate)
            while (_keys.First is { } node) Forget(node);
    }

    private void Forget(LinkedListNode<(string Id, byte[] Key)> node)
    {
        Array.Clear(node.Value.Key);
        _keys.Remove(node);
    }
}
