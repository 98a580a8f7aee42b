using System.Numerics;
using System.Runtime.CompilerServices;

namespace CtrDsl.Data;

/// <summary>
/// Open-addressing map from token bytes to dense ids 0..Count−1 in insertion order, with a train count and the
/// first train row per token. Keys are compared byte for byte (the 64-bit hash only picks the slot), so the hot
/// path never makes a string. Not thread-safe for writes; lookups of a table nobody writes are.
/// </summary>
internal sealed class TokenTable
{
    private int[] _slots;          // id + 1, 0 = empty
    private ulong[] _slotHash;
    private byte[] _arena = new byte[1024];
    private int _arenaLength;
    private int[] _start = new int[64];
    private int[] _length = new int[64];
    private ulong[] _hash = new ulong[64];
    private long[] _count = new long[64];
    private long[] _firstTrain = new long[64];

    public TokenTable(int capacity = 64)
    {
        int slots = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, capacity * 2));
        _slots = new int[slots];
        _slotHash = new ulong[slots];
    }

    public int Count { get; private set; }

    public ReadOnlySpan<byte> Token(int id) => _arena.AsSpan(_start[id], _length[id]);
    public ulong HashOf(int id) => _hash[id];
    public long CountOf(int id) => _count[id];
    /// <summary>First train row that held the token, or −1 if only non-train rows did.</summary>
    public long FirstTrainRow(int id) => _firstTrain[id];

    /// <summary>The id of the token, or −1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Find(ReadOnlySpan<byte> token, ulong hash)
    {
        int mask = _slots.Length - 1;
        for (int i = (int)hash & mask; ; i = (i + 1) & mask)
        {
            int s = _slots[i];
            if (s == 0) return -1;
            if (_slotHash[i] == hash && Token(s - 1).SequenceEqual(token)) return s - 1;
        }
    }

    /// <summary>The id of the token, adding it (count 0, no train row) when new.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int GetOrAdd(ReadOnlySpan<byte> token, ulong hash)
    {
        int mask = _slots.Length - 1;
        int i = (int)hash & mask;
        for (; ; i = (i + 1) & mask)
        {
            int s = _slots[i];
            if (s == 0) break;
            if (_slotHash[i] == hash && Token(s - 1).SequenceEqual(token)) return s - 1;
        }
        return Insert(i, token, hash);
    }

    /// <summary>Adds train occurrences; the first call with a non-negative row sets the first train row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddTrain(int id, long count, long row)
    {
        if (_count[id] == 0) _firstTrain[id] = row;
        _count[id] += count;
    }

    private int Insert(int slot, ReadOnlySpan<byte> token, ulong hash)
    {
        int id = Count;
        if (id == _start.Length)
        {
            int n = id * 2;
            Array.Resize(ref _start, n); Array.Resize(ref _length, n); Array.Resize(ref _hash, n);
            Array.Resize(ref _count, n); Array.Resize(ref _firstTrain, n);
        }
        if (_arenaLength + token.Length > _arena.Length)
            Array.Resize(ref _arena, Math.Max(_arena.Length * 2, _arenaLength + token.Length));
        token.CopyTo(_arena.AsSpan(_arenaLength));
        _start[id] = _arenaLength; _length[id] = token.Length; _hash[id] = hash;
        _count[id] = 0; _firstTrain[id] = -1;
        _arenaLength += token.Length;
        _slots[slot] = id + 1;
        _slotHash[slot] = hash;
        Count = id + 1;
        if (Count * 2 > _slots.Length) Grow();
        return id;
    }

    private void Grow()
    {
        var slots = new int[_slots.Length * 2];
        var slotHash = new ulong[slots.Length];
        int mask = slots.Length - 1;
        for (int id = 0; id < Count; id++)
        {
            int i = (int)_hash[id] & mask;
            while (slots[i] != 0) i = (i + 1) & mask;
            slots[i] = id + 1;
            slotHash[i] = _hash[id];
        }
        _slots = slots;
        _slotHash = slotHash;
    }
}
