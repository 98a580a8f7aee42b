using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CtrDsl.Cpu;

/// <summary>The AVX-512 path: a 12×32 tile, 24 zmm accumulators plus two B vectors and one broadcast (27 of 32 registers).</summary>
/// <remarks>Unrolled by hand: one accumulator per (row, vector) so the JIT keeps all of them in registers; each
/// k step loads the B row once and broadcasts each A element once (vbroadcastss from memory).</remarks>
internal readonly unsafe struct MicroKernel512 : IMicroKernel
{
    public static int MR => 12;
    public static int NR => 32;

    /// <summary>The full MR×NR tile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, float* c, nint ldc, float* bias, in TileUpdate u)
    {
        if (Sse.IsSupported)
        {
            // Start fetching the C tile now; it is only touched after the K loop.
            for (int r = 0; r < 12; r++) Sse.Prefetch0(c + r * ldc);
            for (int r = 0; r < 12; r++) Sse.Prefetch0(c + r * ldc + 31);
        }
        Vector512<float> c0_0 = default, c0_1 = default, c1_0 = default, c1_1 = default, c2_0 = default, c2_1 = default;
        Vector512<float> c3_0 = default, c3_1 = default, c4_0 = default, c4_1 = default, c5_0 = default, c5_1 = default;
        Vector512<float> c6_0 = default, c6_1 = default, c7_0 = default, c7_1 = default, c8_0 = default, c8_1 = default;
        Vector512<float> c9_0 = default, c9_1 = default, c10_0 = default, c10_1 = default, c11_0 = default, c11_1 = default;
        for (int p = 0; p < kc; p++, a += 12, b += 32)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var a0 = Vector512.Create(a[0]);
            c0_0 = Vector512.FusedMultiplyAdd(a0, b0, c0_0);
            c0_1 = Vector512.FusedMultiplyAdd(a0, b1, c0_1);
            var a1 = Vector512.Create(a[1]);
            c1_0 = Vector512.FusedMultiplyAdd(a1, b0, c1_0);
            c1_1 = Vector512.FusedMultiplyAdd(a1, b1, c1_1);
            var a2 = Vector512.Create(a[2]);
            c2_0 = Vector512.FusedMultiplyAdd(a2, b0, c2_0);
            c2_1 = Vector512.FusedMultiplyAdd(a2, b1, c2_1);
            var a3 = Vector512.Create(a[3]);
            c3_0 = Vector512.FusedMultiplyAdd(a3, b0, c3_0);
            c3_1 = Vector512.FusedMultiplyAdd(a3, b1, c3_1);
            var a4 = Vector512.Create(a[4]);
            c4_0 = Vector512.FusedMultiplyAdd(a4, b0, c4_0);
            c4_1 = Vector512.FusedMultiplyAdd(a4, b1, c4_1);
            var a5 = Vector512.Create(a[5]);
            c5_0 = Vector512.FusedMultiplyAdd(a5, b0, c5_0);
            c5_1 = Vector512.FusedMultiplyAdd(a5, b1, c5_1);
            var a6 = Vector512.Create(a[6]);
            c6_0 = Vector512.FusedMultiplyAdd(a6, b0, c6_0);
            c6_1 = Vector512.FusedMultiplyAdd(a6, b1, c6_1);
            var a7 = Vector512.Create(a[7]);
            c7_0 = Vector512.FusedMultiplyAdd(a7, b0, c7_0);
            c7_1 = Vector512.FusedMultiplyAdd(a7, b1, c7_1);
            var a8 = Vector512.Create(a[8]);
            c8_0 = Vector512.FusedMultiplyAdd(a8, b0, c8_0);
            c8_1 = Vector512.FusedMultiplyAdd(a8, b1, c8_1);
            var a9 = Vector512.Create(a[9]);
            c9_0 = Vector512.FusedMultiplyAdd(a9, b0, c9_0);
            c9_1 = Vector512.FusedMultiplyAdd(a9, b1, c9_1);
            var a10 = Vector512.Create(a[10]);
            c10_0 = Vector512.FusedMultiplyAdd(a10, b0, c10_0);
            c10_1 = Vector512.FusedMultiplyAdd(a10, b1, c10_1);
            var a11 = Vector512.Create(a[11]);
            c11_0 = Vector512.FusedMultiplyAdd(a11, b0, c11_0);
            c11_1 = Vector512.FusedMultiplyAdd(a11, b1, c11_1);
        }
        Store(c0_0, c, bias, u);
        Store(c0_1, c + 16, bias == null ? null : bias + 16, u);
        Store(c1_0, c + ldc, bias, u);
        Store(c1_1, c + ldc + 16, bias == null ? null : bias + 16, u);
        Store(c2_0, c + 2 * ldc, bias, u);
        Store(c2_1, c + 2 * ldc + 16, bias == null ? null : bias + 16, u);
        Store(c3_0, c + 3 * ldc, bias, u);
        Store(c3_1, c + 3 * ldc + 16, bias == null ? null : bias + 16, u);
        Store(c4_0, c + 4 * ldc, bias, u);
        Store(c4_1, c + 4 * ldc + 16, bias == null ? null : bias + 16, u);
        Store(c5_0, c + 5 * ldc, bias, u);
        Store(c5_1, c + 5 * ldc + 16, bias == null ? null : bias + 16, u);
        Store(c6_0, c + 6 * ldc, bias, u);
        Store(c6_1, c + 6 * ldc + 16, bias == null ? null : bias + 16, u);
        Store(c7_0, c + 7 * ldc, bias, u);
        Store(c7_1, c + 7 * ldc + 16, bias == null ? null : bias + 16, u);
        Store(c8_0, c + 8 * ldc, bias, u);
        Store(c8_1, c + 8 * ldc + 16, bias == null ? null : bias + 16, u);
        Store(c9_0, c + 9 * ldc, bias, u);
        Store(c9_1, c + 9 * ldc + 16, bias == null ? null : bias + 16, u);
        Store(c10_0, c + 10 * ldc, bias, u);
        Store(c10_1, c + 10 * ldc + 16, bias == null ? null : bias + 16, u);
        Store(c11_0, c + 11 * ldc, bias, u);
        Store(c11_1, c + 11 * ldc + 16, bias == null ? null : bias + 16, u);
    }

    /// <summary>The left MR×NR/2 of the tile (B still read with stride NR), for a last panel at most half full.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunHalf(int kc, float* a, float* b, float* c, nint ldc, float* bias, in TileUpdate u)
    {
        if (Sse.IsSupported)
        {
            // Start fetching the C tile now; it is only touched after the K loop.
            for (int r = 0; r < 12; r++) Sse.Prefetch0(c + r * ldc);
        }
        Vector512<float> c0_0 = default, c1_0 = default, c2_0 = default, c3_0 = default, c4_0 = default, c5_0 = default;
        Vector512<float> c6_0 = default, c7_0 = default, c8_0 = default, c9_0 = default, c10_0 = default, c11_0 = default;
        for (int p = 0; p < kc; p++, a += 12, b += 32)
        {
            var b0 = Vector512.Load(b);
            var a0 = Vector512.Create(a[0]);
            c0_0 = Vector512.FusedMultiplyAdd(a0, b0, c0_0);
            var a1 = Vector512.Create(a[1]);
            c1_0 = Vector512.FusedMultiplyAdd(a1, b0, c1_0);
            var a2 = Vector512.Create(a[2]);
            c2_0 = Vector512.FusedMultiplyAdd(a2, b0, c2_0);
            var a3 = Vector512.Create(a[3]);
            c3_0 = Vector512.FusedMultiplyAdd(a3, b0, c3_0);
            var a4 = Vector512.Create(a[4]);
            c4_0 = Vector512.FusedMultiplyAdd(a4, b0, c4_0);
            var a5 = Vector512.Create(a[5]);
            c5_0 = Vector512.FusedMultiplyAdd(a5, b0, c5_0);
            var a6 = Vector512.Create(a[6]);
            c6_0 = Vector512.FusedMultiplyAdd(a6, b0, c6_0);
            var a7 = Vector512.Create(a[7]);
            c7_0 = Vector512.FusedMultiplyAdd(a7, b0, c7_0);
            var a8 = Vector512.Create(a[8]);
            c8_0 = Vector512.FusedMultiplyAdd(a8, b0, c8_0);
            var a9 = Vector512.Create(a[9]);
            c9_0 = Vector512.FusedMultiplyAdd(a9, b0, c9_0);
            var a10 = Vector512.Create(a[10]);
            c10_0 = Vector512.FusedMultiplyAdd(a10, b0, c10_0);
            var a11 = Vector512.Create(a[11]);
            c11_0 = Vector512.FusedMultiplyAdd(a11, b0, c11_0);
        }
        Store(c0_0, c, bias, u);
        Store(c1_0, c + ldc, bias, u);
        Store(c2_0, c + 2 * ldc, bias, u);
        Store(c3_0, c + 3 * ldc, bias, u);
        Store(c4_0, c + 4 * ldc, bias, u);
        Store(c5_0, c + 5 * ldc, bias, u);
        Store(c6_0, c + 6 * ldc, bias, u);
        Store(c7_0, c + 7 * ldc, bias, u);
        Store(c8_0, c + 8 * ldc, bias, u);
        Store(c9_0, c + 9 * ldc, bias, u);
        Store(c10_0, c + 10 * ldc, bias, u);
        Store(c11_0, c + 11 * ldc, bias, u);
    }

    /// <summary>A last row tile of at most 4 (8) rows runs only those rows, 8 (16) FMAs a k step against 24 (12 for a
    /// half panel), so that a weight gradient of 220 = 18·12 + 4 rows (22 fields × 10) does not pay for 228. Measured
    /// on the loaded Xeon, 1 thread, CPU time: TN 220×4096×400 6 % faster, 400×4096×400 1.5 %.</summary>
    public static void RunTail(int h, bool half, int kc, float* a, float* b, float* tile)
    {
        if (h <= 4) RunRows<Rows4>(kc, a, b, tile);
        else if (h <= 8 && !half) RunRows<Rows8>(kc, a, b, tile);
        else if (half) RunHalf(kc, a, b, tile, NR, null, TileUpdate.Store);
        else Run(kc, a, b, tile, NR, null, TileUpdate.Store);
    }

    interface IRows
    {
        static abstract bool Eight { get; }
    }

    readonly struct Rows4 : IRows
    {
        public static bool Eight => false;
    }

    readonly struct Rows8 : IRows
    {
        public static bool Eight => true;
    }

    /// <summary>The top four (or eight) rows of the full MR×NR tile, stored as they are with row stride NR. Generic
    /// over the row count so that the JIT drops the upper four rows' code where it is a constant false.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void RunRows<TRows>(int kc, float* a, float* b, float* tile) where TRows : struct, IRows
    {
        Vector512<float> c0_0 = default, c0_1 = default, c1_0 = default, c1_1 = default, c2_0 = default, c2_1 = default;
        Vector512<float> c3_0 = default, c3_1 = default, c4_0 = default, c4_1 = default, c5_0 = default, c5_1 = default;
        Vector512<float> c6_0 = default, c6_1 = default, c7_0 = default, c7_1 = default;
        for (int p = 0; p < kc; p++, a += 12, b += 32)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var a0 = Vector512.Create(a[0]);
            c0_0 = Vector512.FusedMultiplyAdd(a0, b0, c0_0);
            c0_1 = Vector512.FusedMultiplyAdd(a0, b1, c0_1);
            var a1 = Vector512.Create(a[1]);
            c1_0 = Vector512.FusedMultiplyAdd(a1, b0, c1_0);
            c1_1 = Vector512.FusedMultiplyAdd(a1, b1, c1_1);
            var a2 = Vector512.Create(a[2]);
            c2_0 = Vector512.FusedMultiplyAdd(a2, b0, c2_0);
            c2_1 = Vector512.FusedMultiplyAdd(a2, b1, c2_1);
            var a3 = Vector512.Create(a[3]);
            c3_0 = Vector512.FusedMultiplyAdd(a3, b0, c3_0);
            c3_1 = Vector512.FusedMultiplyAdd(a3, b1, c3_1);
            if (TRows.Eight)
            {
                var a4 = Vector512.Create(a[4]);
                c4_0 = Vector512.FusedMultiplyAdd(a4, b0, c4_0);
                c4_1 = Vector512.FusedMultiplyAdd(a4, b1, c4_1);
                var a5 = Vector512.Create(a[5]);
                c5_0 = Vector512.FusedMultiplyAdd(a5, b0, c5_0);
                c5_1 = Vector512.FusedMultiplyAdd(a5, b1, c5_1);
                var a6 = Vector512.Create(a[6]);
                c6_0 = Vector512.FusedMultiplyAdd(a6, b0, c6_0);
                c6_1 = Vector512.FusedMultiplyAdd(a6, b1, c6_1);
                var a7 = Vector512.Create(a[7]);
                c7_0 = Vector512.FusedMultiplyAdd(a7, b0, c7_0);
                c7_1 = Vector512.FusedMultiplyAdd(a7, b1, c7_1);
            }
        }
        Vector512.Store(c0_0, tile);
        Vector512.Store(c0_1, tile + 16);
        Vector512.Store(c1_0, tile + 32);
        Vector512.Store(c1_1, tile + 48);
        Vector512.Store(c2_0, tile + 64);
        Vector512.Store(c2_1, tile + 80);
        Vector512.Store(c3_0, tile + 96);
        Vector512.Store(c3_1, tile + 112);
        if (TRows.Eight)
        {
            Vector512.Store(c4_0, tile + 128);
            Vector512.Store(c4_1, tile + 144);
            Vector512.Store(c5_0, tile + 160);
            Vector512.Store(c5_1, tile + 176);
            Vector512.Store(c6_0, tile + 192);
            Vector512.Store(c6_1, tile + 208);
            Vector512.Store(c7_0, tile + 224);
            Vector512.Store(c7_1, tile + 240);
        }
    }

    /// <summary>The vector form of <see cref="TileUpdate.Apply"/>: the same unfused operations in the same order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Store(Vector512<float> acc, float* c, float* bias, in TileUpdate u)
    {
        var v = acc * u.Alpha;
        if (u.First)
        {
            if (u.Beta != 0f) v += Vector512.Load(c) * u.Beta;
        }
        else
        {
            v = Vector512.Load(c) + v;
        }
        if (bias != null) v += Vector512.Load(bias);
        if (u.Relu) v = Vector512.ConditionalSelect(Vector512.LessThan(v, Vector512<float>.Zero), Vector512<float>.Zero, v);
        Vector512.Store(v, c);
    }
}
