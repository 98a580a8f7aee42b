namespace CtrDsl.Data;

/// <summary>Stable hashes of raw UTF-8 token bytes (the same on every machine and run).</summary>
public static class TokenHash
{
    /// <summary>64-bit FNV-1a (offset basis 14695981039346656037, prime 1099511628211) of the bytes.</summary>
    public static ulong Fnv1a64(ReadOnlySpan<byte> bytes)
    {
        ulong h = 14695981039346656037UL;
        foreach (byte b in bytes) h = (h ^ b) * 1099511628211UL;
        return h;
    }

    /// <summary>SplitMix64 finaliser: a well-mixed 64-bit value from a counter; used for seeded shuffles and splits.</summary>
    public static ulong Mix(ulong x) => Init.Rng.Finalize(x + 0x9E3779B97F4A7C15UL);
}
