using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CtrDsl.Cpu;

/// <summary>
/// Copy and multiply-add on one embedding row: 1 to a few dozen floats, where a TensorPrimitives call costs more than
/// the arithmetic (an embedding backward makes one per lookup, batch·fields of them). Widest vector first, then the
/// narrower ones, then the scalar tail. <see cref="MultiplyAdd(float*, float, float*, int)"/> rounds x·scale, then
/// the sum, exactly as TensorPrimitives.MultiplyAdd does (no fused multiply-add), so the two are interchangeable bit
/// for bit.
/// </summary>
internal static unsafe class ShortRows
{
    /// <summary>destination[i] = x[i] for i in [0, n).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Copy(float* x, float* destination, int n)
    {
        if (n == 1)
        {
            *destination = *x;
            return;
        }
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - 16; i += 16) Vector512.Store(Vector512.Load(x + i), destination + i);
        }
        for (; i <= n - 8; i += 8) Vector256.Store(Vector256.Load(x + i), destination + i);
        for (; i <= n - 4; i += 4) Vector128.Store(Vector128.Load(x + i), destination + i);
        for (; i < n; i++) destination[i] = x[i];
    }

    /// <summary>How many lookups ahead the random-access loops over table rows (gather, scatter, lazy optimizer
    /// updates) prefetch: the rows of a large table miss every cache, and the loop body is a few dozen instructions,
    /// so without a prefetch only the handful of misses the out-of-order window holds overlap.</summary>
    public const int PrefetchAhead = 16;

    /// <summary>Asks for the cache lines of x[0, n) (its first and last line: a short row spans at most two).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Prefetch(float* x, int n)
    {
        if (!Sse.IsSupported) return;
        Sse.Prefetch0(x);
        Sse.Prefetch0(x + n - 1);
    }

    /// <summary>destination[i] = 0 for i in [0, n).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Clear(float* destination, int n)
    {
        if (n == 1) *destination = 0f;
        else new Span<float>(destination, n).Clear();
    }

    /// <summary>destination[i] = x[i]·scale + destination[i] for i in [0, n).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MultiplyAdd(float* x, float scale, float* destination, int n) => MultiplyAdd(x, scale, destination, n, -1);

    /// <summary>destination[i] = x[i]·scale + (destination[i] &amp; keep) for i in [0, n), the AND on the bits:
    /// <paramref name="keep"/> −1 adds to destination, 0 adds to +0 (so stale values are overwritten by x[i]·scale + 0,
    /// the bits a clear followed by a multiply-add gives). Lets the sparse scatter start a fresh row without a branch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MultiplyAdd(float* x, float scale, float* destination, int n, int keep)
    {
        if (n == 1)
        {
            *destination = *x * scale + BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(*destination) & keep);
            return;
        }
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var s512 = Vector512.Create(scale);
            var k512 = Vector512.Create(keep).AsSingle();
            for (; i <= n - 16; i += 16)
                Vector512.Store(Vector512.Load(x + i) * s512 + (Vector512.Load(destination + i) & k512), destination + i);
        }
        var s256 = Vector256.Create(scale);
        var k256 = Vector256.Create(keep).AsSingle();
        for (; i <= n - 8; i += 8)
            Vector256.Store(Vector256.Load(x + i) * s256 + (Vector256.Load(destination + i) & k256), destination + i);
        var s128 = Vector128.Create(scale);
        var k128 = Vector128.Create(keep).AsSingle();
        for (; i <= n - 4; i += 4)
            Vector128.Store(Vector128.Load(x + i) * s128 + (Vector128.Load(destination + i) & k128), destination + i);
        for (; i < n; i++)
            destination[i] = x[i] * scale + BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(destination[i]) & keep);
    }
}
