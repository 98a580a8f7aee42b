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
    /// prefetcher follows, where panel by panel would read short pieces of every row at a large stride. A full panel's
    /// row is copied by the widest vectors that fit (MR = 12: 8 + 4, NR = 32: 16 + 16); the copy used to finish
    /// with scalars, four per row of A's 12-wide panels, while the packing was a tenth of a weight gradient's
    /// (Aᵀ·B, both operands packed along the batch) time on one thread.
    /// </summary>
    public static void Rows(float* src, nint strideK, int p0, int p1, int kc, int panels, int n, int width,
        float* dst)
    {
        int full = Math.Min(panels, n / width);
        nint panelStride = (nint)kc * width;
        for (int p = p0; p < p1; p++)
        {
            float* s = src + p * strideK;
            float* d = dst + (nint)p * width;
            int q = 0;
            for (; q < full; q++, s += width, d += panelStride) Copy(s, d, width);
            for (; q < panels; q++, s += width, d += panelStride)
            {
                int w = n - q * width;
                Copy(s, d, w);
                for (int r = w; r < width; r++) d[r] = 0f;
            }
        }
    }

    /// <summary>Copies <paramref name="count"/> floats with the widest vectors that fit, then scalars.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Copy(float* s, float* d, int count)
    {
        int r = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; r + 16 <= count; r += 16) Vector512.Store(Vector512.Load(s + r), d + r);
        }
        for (; r + 8 <= count; r += 8) Vector256.Store(Vector256.Load(s + r), d + r);
        if (r + 4 <= count)
        {
            Vector128.Store(Vector128.Load(s + r), d + r);
            r += 4;
        }
        for (; r < count; r++) d[r] = s[r];
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
                Copy(s, d, w);
                for (int r = w; r < width; r++) d[r] = 0f;
            }
            return;
        }
        if (strideK == 1 && w == width && width % 4 == 0 && Avx.IsSupported)
        {
            Transposed(src, strideW, kc, width, dst);
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

    /// <summary>
    /// Full panels whose columns are contiguous in the source (A not transposed, B transposed): element (p, r) at
    /// <c>src[r·strideW + p]</c>, <paramref name="width"/> a multiple of 4. Eight k steps of 8 (then 4) lines are
    /// loaded as vectors along k and transposed in registers, so every load and store is a vector. It replaced AVX2
    /// gathers (a k step's 12 elements, 8 + 4 lines at a time): the whole product on one thread, gathers and transposes
    /// alternating in one process (CPU time, loaded Xeon), got 7 % faster at 4096×400×130 (NT, where A's packing is
    /// shared by the fewest columns) and 3 % at 4096×400×400 (NN).
    /// </summary>
    static void Transposed(float* src, nint strideW, int kc, int width, float* dst)
    {
        int p = 0;
        for (; p + 8 <= kc; p += 8)
        {
            float* s = src + p;
            float* d = dst + (nint)p * width;
            int r = 0;
            for (; r + 8 <= width; r += 8) Transpose8(s + r * strideW, strideW, d + r, width);
            if (r < width) Transpose4(s + r * strideW, strideW, d + r, width);
        }
        for (; p < kc; p++)
        {
            for (int r = 0; r < width; r++) dst[(nint)p * width + r] = src[r * strideW + p];
        }
    }

    /// <summary>Eight lines × eight k steps: line r's elements p = 0…7 at <c>s + r·stride</c> go to
    /// <c>d + p·width + r</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Transpose8(float* s, nint stride, float* d, int width)
    {
        var r0 = Avx.LoadVector256(s);
        var r1 = Avx.LoadVector256(s + stride);
        var r2 = Avx.LoadVector256(s + 2 * stride);
        var r3 = Avx.LoadVector256(s + 3 * stride);
        var r4 = Avx.LoadVector256(s + 4 * stride);
        var r5 = Avx.LoadVector256(s + 5 * stride);
        var r6 = Avx.LoadVector256(s + 6 * stride);
        var r7 = Avx.LoadVector256(s + 7 * stride);
        // Pairs of lines interleaved, then quadruples: s0 holds p = 0 (low half) and p = 4 (high half) of lines 0–3.
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5);
        var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7);
        var t7 = Avx.UnpackHigh(r6, r7);
        var s0 = Avx.Shuffle(t0, t2, 0x44);
        var s1 = Avx.Shuffle(t0, t2, 0xEE);
        var s2 = Avx.Shuffle(t1, t3, 0x44);
        var s3 = Avx.Shuffle(t1, t3, 0xEE);
        var s4 = Avx.Shuffle(t4, t6, 0x44);
        var s5 = Avx.Shuffle(t4, t6, 0xEE);
        var s6 = Avx.Shuffle(t5, t7, 0x44);
        var s7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(d, Avx.Permute2x128(s0, s4, 0x20));
        Avx.Store(d + width, Avx.Permute2x128(s1, s5, 0x20));
        Avx.Store(d + 2 * width, Avx.Permute2x128(s2, s6, 0x20));
        Avx.Store(d + 3 * width, Avx.Permute2x128(s3, s7, 0x20));
        Avx.Store(d + 4 * width, Avx.Permute2x128(s0, s4, 0x31));
        Avx.Store(d + 5 * width, Avx.Permute2x128(s1, s5, 0x31));
        Avx.Store(d + 6 * width, Avx.Permute2x128(s2, s6, 0x31));
        Avx.Store(d + 7 * width, Avx.Permute2x128(s3, s7, 0x31));
    }

    /// <summary>Four lines × eight k steps, as <see cref="Transpose8"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Transpose4(float* s, nint stride, float* d, int width)
    {
        var r0 = Avx.LoadVector256(s);
        var r1 = Avx.LoadVector256(s + stride);
        var r2 = Avx.LoadVector256(s + 2 * stride);
        var r3 = Avx.LoadVector256(s + 3 * stride);
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        var s0 = Avx.Shuffle(t0, t2, 0x44);
        var s1 = Avx.Shuffle(t0, t2, 0xEE);
        var s2 = Avx.Shuffle(t1, t3, 0x44);
        var s3 = Avx.Shuffle(t1, t3, 0xEE);
        Sse.Store(d, s0.GetLower());
        Sse.Store(d + width, s1.GetLower());
        Sse.Store(d + 2 * width, s2.GetLower());
        Sse.Store(d + 3 * width, s3.GetLower());
        Sse.Store(d + 4 * width, s0.GetUpper());
        Sse.Store(d + 5 * width, s1.GetUpper());
        Sse.Store(d + 6 * width, s2.GetUpper());
        Sse.Store(d + 7 * width, s3.GetUpper());
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
