using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CtrDsl.Cpu;

/// <summary>The AVX2 path: a 6×16 tile, 12 ymm accumulators plus two B vectors and one broadcast (15 of 16 registers).</summary>
/// <remarks>Unrolled by hand: one accumulator per (row, vector) so the JIT keeps all of them in registers; each
/// k step loads the B row once and broadcasts each A element once (vbroadcastss from memory).</remarks>
internal readonly unsafe struct MicroKernel256 : IMicroKernel
{
    public static int MR => 6;
    public static int NR => 16;

    /// <summary>The full MR×NR tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, float* c, nint ldc, float* bias, in TileUpdate u)
    {
        if (Sse.IsSupported)
        {
            // Start fetching the C tile now; it is only touched after the K loop.
            for (int r = 0; r < 6; r++) Sse.Prefetch0(c + r * ldc);
        }
        Vector256<float> c0_0 = default, c0_1 = default, c1_0 = default, c1_1 = default, c2_0 = default, c2_1 = default;
        Vector256<float> c3_0 = default, c3_1 = default, c4_0 = default, c4_1 = default, c5_0 = default, c5_1 = default;
        for (int p = 0; p < kc; p++, a += 6, b += 16)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var a0 = Vector256.Create(a[0]);
            c0_0 = Vector256.FusedMultiplyAdd(a0, b0, c0_0);
            c0_1 = Vector256.FusedMultiplyAdd(a0, b1, c0_1);
            var a1 = Vector256.Create(a[1]);
            c1_0 = Vector256.FusedMultiplyAdd(a1, b0, c1_0);
            c1_1 = Vector256.FusedMultiplyAdd(a1, b1, c1_1);
            var a2 = Vector256.Create(a[2]);
            c2_0 = Vector256.FusedMultiplyAdd(a2, b0, c2_0);
            c2_1 = Vector256.FusedMultiplyAdd(a2, b1, c2_1);
            var a3 = Vector256.Create(a[3]);
            c3_0 = Vector256.FusedMultiplyAdd(a3, b0, c3_0);
            c3_1 = Vector256.FusedMultiplyAdd(a3, b1, c3_1);
            var a4 = Vector256.Create(a[4]);
            c4_0 = Vector256.FusedMultiplyAdd(a4, b0, c4_0);
            c4_1 = Vector256.FusedMultiplyAdd(a4, b1, c4_1);
            var a5 = Vector256.Create(a[5]);
            c5_0 = Vector256.FusedMultiplyAdd(a5, b0, c5_0);
            c5_1 = Vector256.FusedMultiplyAdd(a5, b1, c5_1);
        }
        Store(c0_0, c, bias, u);
        Store(c0_1, c + 8, bias == null ? null : bias + 8, u);
        Store(c1_0, c + ldc, bias, u);
        Store(c1_1, c + ldc + 8, bias == null ? null : bias + 8, u);
        Store(c2_0, c + 2 * ldc, bias, u);
        Store(c2_1, c + 2 * ldc + 8, bias == null ? null : bias + 8, u);
        Store(c3_0, c + 3 * ldc, bias, u);
        Store(c3_1, c + 3 * ldc + 8, bias == null ? null : bias + 8, u);
        Store(c4_0, c + 4 * ldc, bias, u);
        Store(c4_1, c + 4 * ldc + 8, bias == null ? null : bias + 8, u);
        Store(c5_0, c + 5 * ldc, bias, u);
        Store(c5_1, c + 5 * ldc + 8, bias == null ? null : bias + 8, u);
    }

    public static void RunTail(int h, bool half, int kc, float* a, float* b, float* tile)
    {
        if (half) RunHalf(kc, a, b, tile, NR, null, TileUpdate.Store);
        else Run(kc, a, b, tile, NR, null, TileUpdate.Store);
    }

    /// <summary>The left MR×NR/2 of the tile (B still read with stride NR), for a last panel at most half full.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunHalf(int kc, float* a, float* b, float* c, nint ldc, float* bias, in TileUpdate u)
    {
        if (Sse.IsSupported)
        {
            // Start fetching the C tile now; it is only touched after the K loop.
            for (int r = 0; r < 6; r++) Sse.Prefetch0(c + r * ldc);
        }
        Vector256<float> c0_0 = default, c1_0 = default, c2_0 = default, c3_0 = default, c4_0 = default, c5_0 = default;
        for (int p = 0; p < kc; p++, a += 6, b += 16)
        {
            var b0 = Vector256.Load(b);
            var a0 = Vector256.Create(a[0]);
            c0_0 = Vector256.FusedMultiplyAdd(a0, b0, c0_0);
            var a1 = Vector256.Create(a[1]);
            c1_0 = Vector256.FusedMultiplyAdd(a1, b0, c1_0);
            var a2 = Vector256.Create(a[2]);
            c2_0 = Vector256.FusedMultiplyAdd(a2, b0, c2_0);
            var a3 = Vector256.Create(a[3]);
            c3_0 = Vector256.FusedMultiplyAdd(a3, b0, c3_0);
            var a4 = Vector256.Create(a[4]);
            c4_0 = Vector256.FusedMultiplyAdd(a4, b0, c4_0);
            var a5 = Vector256.Create(a[5]);
            c5_0 = Vector256.FusedMultiplyAdd(a5, b0, c5_0);
        }
        Store(c0_0, c, bias, u);
        Store(c1_0, c + ldc, bias, u);
        Store(c2_0, c + 2 * ldc, bias, u);
        Store(c3_0, c + 3 * ldc, bias, u);
        Store(c4_0, c + 4 * ldc, bias, u);
        Store(c5_0, c + 5 * ldc, bias, u);
    }

    /// <summary>The vector form of <see cref="TileUpdate.Apply"/>: the same unfused operations in the same order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(Vector256<float> acc, float* c, float* bias, in TileUpdate u)
    {
        var v = acc * u.Alpha;
        if (u.First)
        {
            if (u.Beta != 0f) v += Vector256.Load(c) * u.Beta;
        }
        else
        {
            v = Vector256.Load(c) + v;
        }
        if (bias != null) v += Vector256.Load(bias);
        if (u.Relu) v = Vector256.ConditionalSelect(Vector256.LessThan(v, Vector256<float>.Zero), Vector256<float>.Zero, v);
        Vector256.Store(v, c);
    }
}
