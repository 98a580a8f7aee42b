using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CtrDsl.Data;

/// <summary>
/// Open-addressing map from token bytes to dense ids 0..Count−1 in insertion order, with a train count and the
/// first train row per token. Keys are compared byte for byte: a token of up to 8 bytes is packed into the slot
/// itself, so a lookup of a typical CTR token (Criteo's 8 hex digits) touches one slot and no other memory; longer
/// tokens are compared against the arena. The hot path never makes a string. Not thread-safe for writes; lookups
/// of a table nobody writes are.
/// </summary>
internal sealed class TokenTable
{
    // The train count lives in the slot, so that counting a token touches one cache line (the entry array is
    // only read when merging and building vocabularies).
    private struct Slot
    {
        public ulong Hash;
        public ulong Packed;
        public long Count;
        public long FirstTrain;
        public int IdPlusOne;   // 0 = empty
        public int Length;
    }

    private struct Entry
    {
        public ulong Hash;
        public int Slot;
        public int Start;
        public int Length;
    }

    private Slot[] _slots;
    private Entry[] _entries = new Entry[64];
    private byte[] _arena = new byte[1024];
    private int _arenaLength;

    public TokenTable(int capacity = 64)
    {
        _slots = new Slot[(int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, capacity * 2))];
    }

    public int Count { get; private set; }

    /// <summary>Empties the table, keeping its memory (chunk tables are reused from chunk to chunk).</summary>
    public void Clear()
    {
        Array.Clear(_slots);
        Count = 0;
        _arenaLength = 0;
    }

    public ReadOnlySpan<byte> Token(int id) => _arena.AsSpan(_entries[id].Start, _entries[id].Length);
    public ulong HashOf(int id) => _entries[id].Hash;
    public long CountOf(int id) => _slots[_entries[id].Slot].Count;
    /// <summary>First train row that held the token, or −1 if only non-train rows did.</summary>
    public long FirstTrainRow(int id) => _slots[_entries[id].Slot].FirstTrain;

    /// <summary>The first 8 bytes, little-endian, zero-padded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Pack(ReadOnlySpan<byte> t)
    {
        if (t.Length >= 8) return MemoryMarshal.Read<ulong>(t);
        ulong v = 0;
        for (int i = 0; i < t.Length; i++) v |= (ulong)t[i] << (8 * i);
        return v;
    }

    /// <summary>
    /// The table's internal hash (SplitMix64 over 8-byte words and the length). Only slot placement depends on it;
    /// nothing stored or hashed into buckets does (hash buckets use <see cref="TokenHash.Fnv1a64"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Hash(ReadOnlySpan<byte> t)
    {
        ulong h = TokenHash.Mix(Pack(t) ^ ((ulong)t.Length << 56));
        for (int i = 8; i < t.Length; i += 8)
            h = TokenHash.Mix(h ^ Pack(t[i..]));
        return h;
    }

    /// <summary>The id of the token, or −1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Find(ReadOnlySpan<byte> token, ulong hash)
    {
        int mask = _slots.Length - 1;
        ulong packed = Pack(token);
        for (int i = (int)(hash >> 32) & mask; ; i = (i + 1) & mask)
        {
            ref Slot s = ref _slots[i];
            if (s.IdPlusOne == 0) return -1;
            if (s.Hash == hash && s.Packed == packed && s.Length == token.Length
                && (token.Length <= 8 || Token(s.IdPlusOne - 1).SequenceEqual(token))) return s.IdPlusOne - 1;
        }
    }

    /// <summary>The id of the token, adding it (count 0, no train row) when new.</summary>
    public int GetOrAdd(ReadOnlySpan<byte> token, ulong hash) => GetOrAdd(token, hash, 0, -1);

    /// <summary>The id of the token, adding it when new, and adds <paramref name="count"/> train occurrences at <paramref name="row"/> (none when 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    public int GetOrAdd(ReadOnlySpan<byte> token, ulong hash, long count, long row)
    {
        int mask = _slots.Length - 1;
        ulong packed = Pack(token);
        int i = (int)(hash >> 32) & mask;
        for (; ; i = (i + 1) & mask)
        {
            ref Slot s = ref _slots[i];
            if (s.IdPlusOne == 0) break;
            if (s.Hash == hash && s.Packed == packed && s.Length == token.Length
                && (token.Length <= 8 || Token(s.IdPlusOne - 1).SequenceEqual(token)))
            {
                if (count != 0)
                {
                    if (s.Count == 0) s.FirstTrain = row;
                    s.Count += count;
                }
                return s.IdPlusOne - 1;
            }
        }
        int id = Insert(i, token, hash, packed, count, count != 0 ? row : -1);
        if (Count * 2 > _slots.Length) Grow();
        return id;
    }

    /// <summary>Adds train occurrences to a token that already has a first train row.</summary>
    public void AddCount(int id, long count) => _slots[_entries[id].Slot].Count += count;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int Insert(int slot, ReadOnlySpan<byte> token, ulong hash, ulong packed, long count, long firstTrain)
    {
        int id = Count;
        if (id == _entries.Length) Array.Resize(ref _entries, id * 2);
        if (_arenaLength + token.Length > _arena.Length)
            Array.Resize(ref _arena, Math.Max(_arena.Length * 2, _arenaLength + token.Length));
        token.CopyTo(_arena.AsSpan(_arenaLength));
        _entries[id] = new Entry { Hash = hash, Slot = slot, Start = _arenaLength, Length = token.Length };
        _arenaLength += token.Length;
        _slots[slot] = new Slot { Hash = hash, Packed = packed, IdPlusOne = id + 1, Length = token.Length, Count = count, FirstTrain = firstTrain };
        Count = id + 1;
        return id;
    }

    private void Grow()
    {
        var old = _slots;
        _slots = new Slot[old.Length * 2];
        int mask = _slots.Length - 1;
        foreach (var s in old)
        {
            if (s.IdPlusOne == 0) continue;
            int i = (int)(s.Hash >> 32) & mask;
            while (_slots[i].IdPlusOne != 0) i = (i + 1) & mask;
            _slots[i] = s;
            _entries[s.IdPlusOne - 1].Slot = i;
        }
    }
}
