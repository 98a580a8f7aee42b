using System.Runtime.CompilerServices;

namespace CtrDsl.Cpu;

/// <summary>
/// One register-blocked tile of <see cref="Gemm"/>: the MR×NR product of a packed A micro-panel ([kc; MR], row i of
/// op(A) at offset i inside each k step) and a packed B micro-panel ([kc; NR]), folded into C by a
/// <see cref="TileUpdate"/>. Every output element is the FMA chain over p = 0, 1, …, kc−1 in that order.
/// </summary>
internal unsafe interface IMicroKernel
{
    static abstract int MR { get; }
    static abstract int NR { get; }

    /// <summary>Computes the tile and writes all MR×NR elements to <paramref name="c"/> (row stride
    /// <paramref name="ldc"/>). <paramref name="bias"/> is null or points at NR values for the tile's columns.</summary>
    static abstract void Run(int kc, float* a, float* b, float* c, nint ldc, float* bias, in TileUpdate u);

    /// <summary>As <see cref="Run"/> for the left MR×NR/2 of the tile only (B still read with stride NR): a last
    /// column panel at most half full costs half. Each element is the same FMA chain as in <see cref="Run"/>.</summary>
    static abstract void RunHalf(int kc, float* a, float* b, float* c, nint ldc, float* bias, in TileUpdate u);

    /// <summary>A tail tile: the top <paramref name="h"/> ≤ MR rows of the tile (its left half only when
    /// <paramref name="half"/>) into <paramref name="tile"/> (row stride NR) unchanged, for
    /// <see cref="TileUpdate.ApplyTail"/>. A kernel may compute only the rows asked for, each the same FMA chain.</summary>
    static abstract void RunTail(int h, bool half, int kc, float* a, float* b, float* tile);
}

/// <summary>
/// How a tile's accumulator <c>acc</c> (one K block's sum) lands in C. The first K block writes
/// <c>alpha·acc + beta·C</c> (C unread when beta is 0), each later block <c>C + alpha·acc</c>; the last block then adds
/// the bias and applies the ReLU. The scalar and vector versions do the same unfused operations in the same order, so
/// a tail tile (stored through a scratch tile and <see cref="Apply"/>) matches a full tile bit for bit.
/// </summary>
internal readonly unsafe struct TileUpdate(float alpha, float beta, bool first, bool relu)
{
    public readonly float Alpha = alpha;
    public readonly float Beta = beta;
    public readonly bool First = first;
    public readonly bool Relu = relu;

    /// <summary>Writes the accumulator unchanged (into a scratch tile).</summary>
    public static TileUpdate Store => new(1f, 0f, true, false);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Apply(float acc, float* c, float* bias)
    {
        float v = acc * Alpha;
        if (First)
        {
            if (Beta != 0f) v += *c * Beta;
        }
        else
        {
            v = *c + v;
        }
        if (bias != null) v += *bias;
        if (Relu) v = v < 0f ? 0f : v; // max(0, v) that keeps a NaN visible
        return v;
    }

    /// <summary>Folds the h×w corner of a scratch tile (row stride <paramref name="ldt"/>) into C.</summary>
    public void ApplyTail(float* tile, int ldt, int h, int w, float* c, nint ldc, float* bias)
    {
        for (int r = 0; r < h; r++)
        {
            float* cr = c + r * ldc;
            float* tr = tile + r * ldt;
            for (int j = 0; j < w; j++) cr[j] = Apply(tr[j], cr + j, bias == null ? null : bias + j);
        }
    }
}

/// <summary>The portable path: a 4×4 tile of scalars (16 accumulators).</summary>
internal readonly unsafe struct MicroKernelScalar : IMicroKernel
{
    public static int MR => 4;
    public static int NR => 4;

    public static void Run(int kc, float* a, float* b, float* c, nint ldc, float* bias, in TileUpdate u)
    {
        float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (int p = 0; p < kc; p++, a += 4, b += 4)
        {
            float b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
            float a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
            c00 = MathF.FusedMultiplyAdd(a0, b0, c00); c01 = MathF.FusedMultiplyAdd(a0, b1, c01);
            c02 = MathF.FusedMultiplyAdd(a0, b2, c02); c03 = MathF.FusedMultiplyAdd(a0, b3, c03);
            c10 = MathF.FusedMultiplyAdd(a1, b0, c10); c11 = MathF.FusedMultiplyAdd(a1, b1, c11);
            c12 = MathF.FusedMultiplyAdd(a1, b2, c12); c13 = MathF.FusedMultiplyAdd(a1, b3, c13);
            c20 = MathF.FusedMultiplyAdd(a2, b0, c20); c21 = MathF.FusedMultiplyAdd(a2, b1, c21);
            c22 = MathF.FusedMultiplyAdd(a2, b2, c22); c23 = MathF.FusedMultiplyAdd(a2, b3, c23);
            c30 = MathF.FusedMultiplyAdd(a3, b0, c30); c31 = MathF.FusedMultiplyAdd(a3, b1, c31);
            c32 = MathF.FusedMultiplyAdd(a3, b2, c32); c33 = MathF.FusedMultiplyAdd(a3, b3, c33);
        }
        StoreRow(c00, c01, c02, c03, c, bias, u);
        StoreRow(c10, c11, c12, c13, c + ldc, bias, u);
        StoreRow(c20, c21, c22, c23, c + 2 * ldc, bias, u);
        StoreRow(c30, c31, c32, c33, c + 3 * ldc, bias, u);
    }

    public static void RunHalf(int kc, float* a, float* b, float* c, nint ldc, float* bias, in TileUpdate u)
    {
        float* tile = stackalloc float[16];
        Run(kc, a, b, tile, 4, null, TileUpdate.Store);
        u.ApplyTail(tile, 4, 4, 2, c, ldc, bias);
    }

    public static void RunTail(int h, bool half, int kc, float* a, float* b, float* tile) =>
        Run(kc, a, b, tile, 4, null, TileUpdate.Store);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StoreRow(float v0, float v1, float v2, float v3, float* c, float* bias, in TileUpdate u)
    {
        bool hasBias = bias != null;
        c[0] = u.Apply(v0, c, bias);
        c[1] = u.Apply(v1, c + 1, hasBias ? bias + 1 : null);
        c[2] = u.Apply(v2, c + 2, hasBias ? bias + 2 : null);
        c[3] = u.Apply(v3, c + 3, hasBias ? bias + 3 : null);
    }
}
