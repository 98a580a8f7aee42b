using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using CtrDsl.Backends;

namespace CtrDsl.Cpu;

/// <summary>Dense single-precision matrix multiplication on the CPU, row-major, parallel over <see cref="WorkerPool"/>.</summary>
public static class Gemm
{
    [ThreadStatic] static int? maxVectorWidth;

    /// <summary>Widest vector path <see cref="Sgemm"/> may take: 512 (default), 256, or anything lower for the scalar
    /// path; the widest one the hardware accelerates is used. Tests lower it to run every path. Like
    /// <see cref="GemmBlocking"/>, a setting holds for the calling thread only.</summary>
    internal static int MaxVectorWidth { get => maxVectorWidth ?? 512; set => maxVectorWidth = value; }

    /// <summary>
    /// Row-major C[m×n] = alpha·op(A)·op(B) + beta·C, then the epilogue. op(A) is m×k, op(B) is k×n.
    /// A is stored m×k (lda ≥ k) when <paramref name="transA"/> is No, k×m (lda ≥ m) when Yes; likewise B is stored
    /// k×n (ldb ≥ n) or n×k (ldb ≥ k). beta == 0 overwrites C without reading it (C may hold NaN garbage).
    /// Zero-size m, n or k are legal (k == 0 gives beta·C then the epilogue; so does alpha == 0, without reading A or B).
    /// <paramref name="bias"/> (length ≥ n) is read only when <paramref name="epilogue"/> is Bias or BiasRelu.
    /// </summary>
    /// <remarks>
    /// Deterministic: the same inputs give bit-identical output whatever <see cref="WorkerPool.ThreadCount"/> is, and
    /// the scalar, AVX2 and AVX-512 paths agree bit for bit too (every element is the same FMA chain over K).
    /// </remarks>
    /// <exception cref="ArgumentException">A dimension is negative, a leading dimension is smaller than its row, or a
    /// span is too short for the given sizes.</exception>
    public static unsafe void Sgemm(Transpose transA, Transpose transB, int m, int n, int k,
        float alpha, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        float beta, Span<float> c, int ldc,
        ReadOnlySpan<float> bias = default, GemmEpilogue epilogue = GemmEpilogue.None)
    {
        if (m < 0) ThrowDimension(nameof(m), m);
        if (n < 0) ThrowDimension(nameof(n), n);
        if (k < 0) ThrowDimension(nameof(k), k);
        bool readsAB = k > 0 && alpha != 0f && m > 0 && n > 0;
        if (readsAB)
        {
            CheckOperand(nameof(a), nameof(lda), transA, m, k, a.Length, lda);
            CheckOperand(nameof(b), nameof(ldb), transB, k, n, b.Length, ldb);
        }
        CheckOperand(nameof(c), nameof(ldc), Transpose.No, m, n, c.Length, ldc);
        if (epilogue != GemmEpilogue.None && bias.Length < n) ThrowBias(epilogue, n, bias.Length);
        if (m == 0 || n == 0) return;

        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        fixed (float* pbias = bias)
        {
            var g = new GemmArgs
            {
                M = m, N = n, K = k, Alpha = alpha, Beta = beta,
                A = pa, AStrideM = transA == Transpose.No ? lda : 1, AStrideK = transA == Transpose.No ? 1 : lda,
                B = pb, BStrideK = transB == Transpose.No ? ldb : 1, BStrideN = transB == Transpose.No ? 1 : ldb,
                C = pc, Ldc = ldc,
                Bias = epilogue == GemmEpilogue.None ? null : pbias,
                Relu = epilogue == GemmEpilogue.BiasRelu,
            };
            if (!readsAB) ScaleOnly(g);
            else if (GemmVector.Applies(g)) GemmVector.Run(g, MaxVectorWidth);
            else if (MaxVectorWidth >= 512 && (Vector512.IsHardwareAccelerated || Avx512F.IsSupported)) GemmDriver<MicroKernel512>.Run(g);
            else if (MaxVectorWidth >= 256 && Vector256.IsHardwareAccelerated) GemmDriver<MicroKernel256>.Run(g);
            else GemmDriver<MicroKernelScalar>.Run(g);
        }
    }

    /// <summary>The product is zero (k == 0 or alpha == 0): C = beta·C (0 when beta is 0), then the epilogue.</summary>
    static unsafe void ScaleOnly(in GemmArgs g)
    {
        var update = new TileUpdate(0f, g.Beta, true, g.Relu);
        for (int i = 0; i < g.M; i++)
        {
            float* row = g.C + i * g.Ldc;
            for (int j = 0; j < g.N; j++) row[j] = update.Apply(0f, row + j, g.Bias == null ? null : g.Bias + j);
        }
    }

    /// <summary>Checks a row-major operand of <paramref name="rows"/>×<paramref name="cols"/> as used (stored
    /// transposed when <paramref name="trans"/> is Yes) against its span length and leading dimension.</summary>
    static void CheckOperand(string name, string ldName, Transpose trans, int rows, int cols, int length, int ld)
    {
        int storedRows = trans == Transpose.No ? rows : cols;
        int storedCols = trans == Transpose.No ? cols : rows;
        if (ld < Math.Max(1, storedCols)) ThrowLeading(name, ldName, trans, storedRows, storedCols, ld);
        long needed = storedRows == 0 || storedCols == 0 ? 0 : (long)(storedRows - 1) * ld + storedCols;
        if (length < needed) ThrowLength(name, ldName, trans, storedRows, storedCols, ld, needed, length);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    static void ThrowDimension(string name, int value) =>
        throw new ArgumentException($"Sgemm: {name} must be non-negative, got {value}", name);

    [MethodImpl(MethodImplOptions.NoInlining)]
    static void ThrowLeading(string name, string ldName, Transpose trans, int rows, int cols, int ld) =>
        throw new ArgumentException(
            $"Sgemm: {name} is stored [{rows}; {cols}] (trans{Suffix(name)} = {trans}), so {ldName} must be at least " +
            $"{Math.Max(1, cols)}, got {ld}", ldName);

    [MethodImpl(MethodImplOptions.NoInlining)]
    static void ThrowLength(string name, string ldName, Transpose trans, int rows, int cols, int ld, long needed,
        int length) =>
        throw new ArgumentException(
            $"Sgemm: {name} is stored [{rows}; {cols}] with {ldName} = {ld} (trans{Suffix(name)} = {trans}), so it needs " +
            $"at least {needed} elements, got {length}", name);

    [MethodImpl(MethodImplOptions.NoInlining)]
    static void ThrowBias(GemmEpilogue epilogue, int n, int length) =>
        throw new ArgumentException(
            $"Sgemm: epilogue {epilogue} needs a bias of length n = {n}, got {length}", "bias");

    static string Suffix(string name) => name == "c" ? "C (always No)" : name.ToUpperInvariant();
}
