using CtrDsl.Backends;

namespace CtrDsl.Cpu;

public sealed unsafe partial class CpuBackend
{
    // Buffers the owner declared unchanging (a predictor's parameters), the packed copies made of them so far, and
    // the one block of memory those copies share.
    // Keyed by the array a buffer wraps (see RowKey), so that two plans binding the same parameters share one copy.
    private HashSet<object>? _rowConstants;
    private RowGemv[] _rowPacks = [];
    private RowPackArena? _rowArena;

    /// <summary>
    /// Declares <paramref name="constants"/> (a scorer's parameter buffers) unchanging from now on: a one-row GEMM
    /// (m == 1, B not transposed, as in a dense layer scoring one row) whose B lies in one of them then runs over a copy
    /// of that B packed for one row (<see cref="RowGemv"/>), made on the first such call and reused after, with the
    /// bits the plain GEMM gives. All the copies lie in one block of this backend's (<see cref="RowPackArena"/>: huge
    /// pages, so that a core's L2 can hold every layer at once), freed by <see cref="Dispose"/>. The copies do not
    /// follow later writes to the buffers: after the parameters change (more training, a checkpoint loaded into them),
    /// score through a new backend.
    /// </summary>
    public void PackSingleRowWeights(IEnumerable<DeviceBuffer> constants)
    {
        _rowConstants ??= new HashSet<object>(ReferenceEqualityComparer.Instance);
        foreach (var b in constants) _rowConstants.Add(RowKey(b));
    }

    /// <summary>Runs a GEMM of a few rows (m up to <see cref="RowGemv.MaxRows"/>) over packed weights when B is a
    /// declared constant and the operands are well formed (a malformed call is left to <see cref="Cpu.Gemm.Sgemm"/>,
    /// which names the bad operand); false otherwise.</summary>
    private bool TryRowGemv(Transpose transA, Transpose transB, int m, int n, int k, float alpha, BufferView a, int lda,
        BufferView b, int ldb, float beta, BufferView c, int ldc, BufferView bias, GemmEpilogue epilogue)
    {
        if (transB != Transpose.No || b.Buffer is null || m < 1 || k < 1 || n < 1 || alpha == 0f || ldb < n) return false;
        if (m > 1 && ldc < n) return false;
        // Element (i, p) of op(A) lies at i·rowStep + p·xStride.
        (nint rowStep, nint xStride) = transA == Transpose.No ? ((nint)lda, (nint)1) : (1, lda);
        if (xStride < 1 || rowStep < 1 || a.Length < (m - 1) * (long)rowStep + (k - 1) * (long)xStride + 1) return false;
        if (b.Length < (k - 1) * (long)ldb + n || c.Length < (m - 1) * (long)ldc + n) return false;
        if (epilogue != GemmEpilogue.None && bias.Length < n) return false;
        var pack = FindRowPack(b, k, n, ldb);
        if (pack is null) return false;
        fixed (float* x = F(a), y = F(c), bb = F(bias))
            pack.Run(m, x, rowStep, xStride, alpha, beta, y, ldc, epilogue == GemmEpilogue.None ? null : bb, epilogue == GemmEpilogue.BiasRelu);
        return true;
    }

    /// <summary>What identifies a buffer's memory: the array a CPU buffer wraps (a predictor's one-row and batch plans
    /// wrap the same parameter arrays in buffers of their own), or the buffer itself.</summary>
    private static object RowKey(DeviceBuffer b) => b is CpuFloatBuffer f ? f.Data : b;

    private RowGemv? FindRowPack(BufferView b, int k, int n, int ldb)
    {
        var key = RowKey(b.Buffer!);
        foreach (var p in _rowPacks)
            if (p.Matches(key, b.Offset, k, n, ldb)) return p;
        if (!_rowConstants!.Contains(key) || !RowGemv.Supported(Cpu.Gemm.MaxVectorWidth)) return null;
        _rowArena ??= new RowPackArena();
        var pack = new RowGemv(_rowArena, F(b), k, n, ldb, Cpu.Gemm.MaxVectorWidth, key, b.Offset);
        _rowPacks = [.. _rowPacks, pack];
        return pack;
    }

    /// <summary>Bytes of the packed single-row copies made so far, and whether their block is advised as huge pages.</summary>
    internal (long Bytes, bool Huge) RowPackMemory => (_rowArena?.Used ?? 0, _rowArena?.Huge ?? false);

    /// <summary>Frees the packed copies; later one-row GEMMs read B as it lies.</summary>
    private void DisposeRowPacks()
    {
        (_rowConstants, _rowPacks) = (null, []);
        _rowArena?.Dispose();
        _rowArena = null;
    }
}
