using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CtrDsl.Cpu;

/// <summary>
/// Copies a panel of an operand into the contiguous layout a micro-kernel streams: [kc; W], where element (p, r) of
/// the source sits at <c>src[p·strideK + r·strideW]</c>. Rows r ≥ w are zero, so a tail tile computes zeros there.
/// One routine serves A and B in both storage orders; only the strides differ.
/// </summary>
internal static unsafe class GemmPacking
{
    /// <summary>
    /// Packs k steps [p0, p1) of <paramref name="panels"/> consecutive panels whose rows are contiguous in the source
    /// (element (p, r) of panel q at <c>src[p·strideK + q·width + r]</c>), panel q going to
    /// <c>dst + q·kc·width</c>, row by row: each source row is read once, start to end, which the hardware
    /// prefetcher follows, where panel by panel would read short pieces of every row at a large stride.
    /// </summary>
    public static void Rows(float* src, nint strideK, int p0, int p1, int kc, int panels, int n, int width,
        float* dst)
    {
        for (int p = p0; p < p1; p++)
        {
            float* s = src + p * strideK;
            float* d = dst + (nint)p * width;
            for (int q = 0; q < panels; q++, s += width, d += (nint)kc * width)
            {
                int w = Math.Min(width, n - q * width);
                int r = 0;
                for (; r + 8 <= w; r += 8) Vector256.Store(Vector256.Load(s + r), d + r);
                for (; r < w; r++) d[r] = s[r];
                for (; r < width; r++) d[r] = 0f;
            }
        }
    }

    public static void Panel(float* src, nint strideK, nint strideW, int kc, int w, int width, float* dst)
    {
        if (strideW == 1)
        {
            // Rows of the panel are contiguous in the source (B not transposed, A transposed): copy each in vector
            // chunks (measured as fast as a memmove call per row for MR = 12, and no call).
            for (int p = 0; p < kc; p++)
            {
                float* s = src + p * strideK;
                float* d = dst + (nint)p * width;
                int r = 0;
                for (; r + 8 <= w; r += 8) Vector256.Store(Vector256.Load(s + r), d + r);
                for (; r + 4 <= w; r += 4) Vector128.Store(Vector128.Load(s + r), d + r);
                for (; r < w; r++) d[r] = s[r];
                for (; r < width; r++) d[r] = 0f;
            }
            return;
        }
        if (strideK == 1 && w == width && width % 4 == 0 && Avx2.IsSupported && strideW <= int.MaxValue / 8)
        {
            // Full panels whose columns are contiguous (A not transposed, B transposed): gathers collect a k step's
            // `width` elements, 8 or 4 lines at a time. Packing A of 4096×1200 (kc = 400, MR = 12): 1.3 ms against
            // 3.7 ms for the scalar scatter below, out of ~27 ms for the whole product on one thread.
            var lines8 = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) * (int)strideW;
            var lines4 = Vector128.Create(0, 1, 2, 3) * (int)strideW;
            for (int p = 0; p < kc; p++)
            {
                float* s = src + p;
                float* d = dst + (nint)p * width;
                int r = 0;
                for (; r + 8 <= width; r += 8) Vector256.Store(Avx2.GatherVector256(s + r * strideW, lines8, 4), d + r);
                if (r < width) Vector128.Store(Avx2.GatherVector128(s + r * strideW, lines4, 4), d + r);
            }
            return;
        }
        // Columns of the panel are contiguous (A not transposed, B transposed): read each source line once, in
        // order, and scatter it with stride `width` into the panel, which stays in L1.
        for (int r = 0; r < w; r++)
        {
            float* s = src + r * strideW;
            float* d = dst + r;
            if (strideK == 1)
            {
                for (int p = 0; p < kc; p++) d[(nint)p * width] = s[p];
            }
            else
            {
                for (int p = 0; p < kc; p++) d[(nint)p * width] = s[p * strideK];
            }
        }
        for (int r = w; r < width; r++)
        {
            for (int p = 0; p < kc; p++) dst[(nint)p * width + r] = 0f;
        }
    }
}

/// <summary>
/// Packing buffers owned by the thread that uses them, allocated once and grown only when a larger size is first
/// seen, so a GEMM call allocates nothing once warm. Pinned (stable addresses) and 64-byte aligned.
/// </summary>
internal static unsafe class GemmBuffers
{
    [ThreadStatic] static Slot a, b, partials;

    /// <summary>This thread's buffer for packed A blocks.</summary>
    public static float* A(long floats) => a.Get(floats);

    /// <summary>This thread's buffer for packed B, shared read-only with the workers while its call runs.</summary>
    public static float* B(long floats) => b.Get(floats);

    /// <summary>This thread's buffer for the partial products of a split-K call, written by the workers.</summary>
    public static float* Partials(long floats) => partials.Get(floats);

    /// <summary>One grow-only buffer: the array (kept alive), its aligned start and its capacity in floats.</summary>
    struct Slot
    {
        float[]? array;
        float* pointer;
        long capacity;

        public float* Get(long floats)
        {
            if (floats > capacity) pointer = Grow(floats, out array, out capacity);
            return pointer;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    static float* Grow(long floats, out float[] array, out long capacity)
    {
        array = GC.AllocateUninitializedArray<float>(checked((int)(floats + 16)), pinned: true);
        float* p = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
        float* aligned = (float*)(((nuint)p + 63) & ~(nuint)63);
        capacity = floats;
        return aligned;
    }
}
