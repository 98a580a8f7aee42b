using System.Numerics;

namespace CtrDsl.Init;

/// <summary>
/// A small deterministic generator: xoshiro256** (Blackman and Vigna 2018), its 256-bit state seeded from one 64-bit
/// key by SplitMix64, as the authors recommend. Same key ⇒ same sequence on every machine and runtime.
/// <para>Streams: <see cref="Fork"/> derives a child from this generator's key and a stream number only (not from how
/// many numbers have been drawn), and <see cref="ForName"/> keys a parameter's stream by a stable hash of its name, so a
/// model's initial weights do not depend on the order in which its parameters were created.</para>
/// Not thread-safe; not for cryptography.
/// </summary>
public sealed class Rng
{
    private ulong s0, s1, s2, s3;
    private double cachedNormal;
    private bool hasCachedNormal;

    public Rng(ulong seed)
    {
        Key = seed;
        ulong x = seed;
        s0 = SplitMix64(ref x);
        s1 = SplitMix64(ref x);
        s2 = SplitMix64(ref x);
        s3 = SplitMix64(ref x);
    }

    // Sets the xoshiro state directly, for the authors' known-answer vectors.
    internal Rng(ulong s0, ulong s1, ulong s2, ulong s3)
    {
        (this.s0, this.s1, this.s2, this.s3) = (s0, s1, s2, s3);
    }

    /// <summary>The 64-bit key this generator was seeded with.</summary>
    public ulong Key { get; }

    /// <summary>The generator of parameter <paramref name="name"/> under model seed <paramref name="seed"/>.</summary>
    public static Rng ForName(ulong seed, string name) => new Rng(seed).Fork(Fnv1a(name));

    /// <summary>
    /// An independent child stream, a function of (<see cref="Key"/>, <paramref name="stream"/>) only: forking the same
    /// stream twice gives the same sequence, and the parent's position does not matter.
    /// </summary>
    public Rng Fork(ulong stream)
    {
        // Two rounds of the SplitMix64 finaliser decorrelate nearby keys and stream numbers (0, 1, 2, …).
        ulong x = Key ^ 0x6A09E667F3BCC909UL;
        ulong a = SplitMix64(ref x);
        ulong y = stream ^ 0xBB67AE8584CAA73BUL;
        ulong b = SplitMix64(ref y);
        ulong z = a ^ (b * 0x9E3779B97F4A7C15UL);
        return new Rng(SplitMix64(ref z));
    }

    /// <summary>The next 64 uniformly random bits (xoshiro256**).</summary>
    public ulong NextUInt64()
    {
        ulong result = BitOperations.RotateLeft(s1 * 5, 7) * 9;
        ulong t = s1 << 17;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = BitOperations.RotateLeft(s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1), a multiple of 2⁻²⁴ (the top 24 bits), so 1 is never returned.</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1f / (1 << 24));

    /// <summary>Uniform in [0, 1), a multiple of 2⁻⁵³ (the top 53 bits).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, <paramref name="maxExclusive"/>), unbiased (Lemire's multiply-and-reject).</summary>
    public int NextInt(int maxExclusive)
    {
        if (maxExclusive <= 0)
            throw new ArgumentOutOfRangeException(nameof(maxExclusive), $"Rng.NextInt: bound must be positive, got {maxExclusive}");
        ulong range = (ulong)maxExclusive;
        ulong product = Math.BigMul(NextUInt64(), range, out ulong low);
        if (low < range)
        {
            ulong threshold = (0UL - range) % range;
            while (low < threshold) product = Math.BigMul(NextUInt64(), range, out low);
        }
        return (int)product;
    }

    /// <summary>
    /// A standard normal draw (Marsaglia's polar method, in float64); each accepted pair yields two values and the
    /// second is returned by the next call.
    /// </summary>
    public double NextNormal()
    {
        if (hasCachedNormal)
        {
            hasCachedNormal = false;
            return cachedNormal;
        }
        double u, v, s;
        do
        {
            u = 2 * NextDouble() - 1;
            v = 2 * NextDouble() - 1;
            s = u * u + v * v;
        } while (s >= 1 || s == 0);
        double factor = Math.Sqrt(-2 * Math.Log(s) / s);
        cachedNormal = v * factor;
        hasCachedNormal = true;
        return u * factor;
    }

    /// <summary>Shuffles <paramref name="x"/> in place, every permutation equally likely (Fisher–Yates).</summary>
    public void Shuffle(Span<int> x)
    {
        for (int i = x.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (x[i], x[j]) = (x[j], x[i]);
        }
    }

    private static ulong SplitMix64(ref ulong x) => Finalize(x += 0x9E3779B97F4A7C15UL);

    /// <summary>The SplitMix64 finaliser: a well-mixed 64-bit value from any 64-bit input. Every counter-based hash in
    /// the core (dropout masks, plan seeds, crossed ids, token hashes) goes through this one definition.</summary>
    public static ulong Finalize(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    // FNV-1a over the UTF-16 code units: stable across processes, unlike string.GetHashCode.
    private static ulong Fnv1a(string name)
    {
        ulong h = 0xCBF29CE484222325UL;
        foreach (char ch in name)
        {
            h = (h ^ (byte)ch) * 0x100000001B3UL;
            h = (h ^ (byte)(ch >> 8)) * 0x100000001B3UL;
        }
        return h;
    }
}
