using System.Numerics.Tensors;
using CtrDsl.Backends;

namespace CtrDsl.Cpu;

// The interactions family's field-embedded factorisation machine (DeepFEFM), written as GEMMs per first field.
public sealed unsafe partial class CpuBackend
{
    // FEFM in GEMMs, one per first field i (as the reference does): with W_p = U_p + U_pᵀ laid out as
    // Wcat_i = [W_(i,i+1) | … | W_(i,F−1)] (k × n_i·k), T_i = X_i·Wcat_i holds x_iᵀW_p for every later field j.
    // The later fields i+1 … F−1 are one contiguous run of each row of x, so y[b, p] = ⟨T_i[b, block j], x_j[b]⟩ is
    // one elementwise product with that run followed by sums of k; the backward rules are products with the same run.
    // The GEMMs use the pool themselves; the elementwise parts run over the batch on it.
    private struct FefmForwardJob : IParallelJob
    {
        public int Fields, Dim, Pairs, First, PairStart;
        public float* X, T, Y;

        public readonly void Run(int b)
        {
            int later = Fields - 1 - First, width = later * Dim;
            var xs = new ReadOnlySpan<float>(X + (long)b * Fields * Dim + (First + 1) * Dim, width);
            var t = new Span<float>(T + (long)b * width, width);
            TensorPrimitives.Multiply(t, xs, t);
            float* y = Y + (long)b * Pairs + PairStart;
            for (int jj = 0; jj < later; jj++) y[jj] = TensorPrimitives.Sum(t.Slice(jj * Dim, Dim));
        }
    }

    // Backward for one first field i over a chunk of rows. With G[b, block j] = dy[b, p]·x_j[b]:
    // dx_j += dy·T_i[block j] (T_i = x_iᵀW, W symmetric), dx_i += G·Wcat_iᵀ (k dots of the row), and
    // dWcat_i += x_i ⊗ G, summed per chunk and then over chunks in order. Doing these per row keeps k-wide GEMMs out.
    private struct FefmBackwardJob : IParallelJob
    {
        public int Batch, Fields, Dim, Pairs, First, PairStart;
        public float* X, T, DY, DX, Wcat, Partials;

        [ThreadStatic] private static float[]? t_g;

        public readonly void Run(int chunk)
        {
            var (start, end) = BatchChunks.Range(chunk, Batch);
            int later = Fields - 1 - First, width = later * Dim, row = Fields * Dim;
            var g = BatchChunks.Scratch(ref t_g, width).AsSpan(0, width);
            var dw = new Span<float>(Partials + (long)chunk * Dim * width, Dim * width);
            dw.Clear();
            var wcat = new ReadOnlySpan<float>(Wcat, Dim * width);
            for (int b = start; b < end; b++)
            {
                float* xrow = X + (long)b * row;
                var xs = new ReadOnlySpan<float>(xrow + (First + 1) * Dim, width);
                float* dy = DY + (long)b * Pairs + PairStart;
                for (int jj = 0; jj < later; jj++)
                    TensorPrimitives.Multiply(xs.Slice(jj * Dim, Dim), dy[jj], g.Slice(jj * Dim, Dim));
                if (DX != null)
                {
                    var t = new ReadOnlySpan<float>(T + (long)b * width, width);
                    float* dxrow = DX + (long)b * row;
                    var dxs = new Span<float>(dxrow + (First + 1) * Dim, width);
                    for (int jj = 0; jj < later; jj++)
                    {
                        var d = dxs.Slice(jj * Dim, Dim);
                        TensorPrimitives.MultiplyAdd(t.Slice(jj * Dim, Dim), dy[jj], d, d);
                    }
                    for (int a = 0; a < Dim; a++) dxrow[First * Dim + a] += TensorPrimitives.Dot(g, wcat.Slice(a * width, width));
                }
                if (Partials != null)
                    for (int a = 0; a < Dim; a++)
                    {
                        var d = dw.Slice(a * width, width);
                        TensorPrimitives.MultiplyAdd(g, xrow[First * Dim + a], d, d);
                    }
            }
        }
    }

    public void Fefm(int batch, int fields, int dim, BufferView x, BufferView u, BufferView y)
    {
        var xs = F(x);
        int pairs = fields * (fields - 1) / 2;
        var wcat = FefmWeights(fields, dim, F(u));
        var t = BatchChunks.Scratch(ref _fefmT, (long)batch * Math.Max(0, fields - 1) * dim);
        int row = fields * dim;
        int pairStart = 0;
        fixed (float* px = xs, pt = t, py = F(y))
        {
            for (int i = 0; i < fields - 1; i++)
            {
                int later = fields - 1 - i, width = later * dim;
                var wi = wcat.AsSpan(pairStart * dim * dim, dim * width);
                Cpu.Gemm.Sgemm(Transpose.No, Transpose.No, batch, width, dim, 1f, xs.Slice(i * dim), row, wi, width, 0f, t, width);
                var job = new FefmForwardJob { Fields = fields, Dim = dim, Pairs = pairs, First = i, PairStart = pairStart, X = px, T = pt, Y = py };
                WorkerPool.For(batch, ref job);
                pairStart += later;
            }
        }
    }

    public void FefmBackward(int batch, int fields, int dim, BufferView x, BufferView u, BufferView dy, BufferView dx, BufferView du)
    {
        var xs = F(x);
        int pairs = fields * (fields - 1) / 2;
        var wcat = FefmWeights(fields, dim, F(u));
        var t = BatchChunks.Scratch(ref _fefmT, (long)batch * Math.Max(0, fields - 1) * dim);
        int chunks = BatchChunks.Count(batch);
        var partials = BatchChunks.Scratch(ref _fefmG, (long)chunks * dim * Math.Max(0, fields - 1) * dim);
        var dwcat = BatchChunks.Scratch(ref _fefmDW, (long)pairs * dim * dim);
        int row = fields * dim;
        int pairStart = 0;
        fixed (float* px = xs, pt = t, pp = partials, pdy = F(dy), pdx = F(dx), pw = wcat)
        {
            for (int i = 0; i < fields - 1; i++)
            {
                int later = fields - 1 - i, width = later * dim;
                if (!dx.IsEmpty)
                    Cpu.Gemm.Sgemm(Transpose.No, Transpose.No, batch, width, dim, 1f, xs.Slice(i * dim), row,
                        wcat.AsSpan(pairStart * dim * dim, dim * width), width, 0f, t, width);
                var job = new FefmBackwardJob
                {
                    Batch = batch, Fields = fields, Dim = dim, Pairs = pairs, First = i, PairStart = pairStart,
                    X = px, T = pt, DY = pdy, DX = dx.IsEmpty ? null : pdx, Wcat = pw + (long)pairStart * dim * dim,
                    Partials = du.IsEmpty ? null : pp,
                };
                WorkerPool.For(chunks, ref job);
                if (!du.IsEmpty)
                {
                    var block = dwcat.AsSpan(pairStart * dim * dim, dim * width);
                    block.Clear();
                    for (int chunk = 0; chunk < chunks; chunk++)
                        TensorPrimitives.Add(block, partials.AsSpan(chunk * dim * width, dim * width), block);
                }
                pairStart += later;
            }
        }
        if (du.IsEmpty) return;
        // W = U + Uᵀ, so dU_p = dW_p + dW_pᵀ; unpack from the Wcat layout.
        var dus = F(du);
        pairStart = 0;
        for (int i = 0; i < fields - 1; i++)
        {
            int later = fields - 1 - i, width = later * dim;
            var block = dwcat.AsSpan(pairStart * dim * dim, dim * width);
            for (int jj = 0; jj < later; jj++)
            {
                var dup = dus.Slice((pairStart + jj) * dim * dim, dim * dim);
                for (int a = 0; a < dim; a++)
                    for (int c = 0; c < dim; c++)
                        dup[a * dim + c] += block[a * width + jj * dim + c] + block[c * width + jj * dim + a];
            }
            pairStart += later;
        }
    }

    private float[]? _fefmW, _fefmT, _fefmG, _fefmDW;

    /// <summary>W_p = U_p + U_pᵀ arranged as the Wcat_i blocks (row a of block i is [W_(i,j)[a, ·] for j &gt; i]).</summary>
    private float[] FefmWeights(int fields, int dim, Span<float> u)
    {
        int pairs = fields * (fields - 1) / 2;
        var w = BatchChunks.Scratch(ref _fefmW, (long)pairs * dim * dim);
        int pairStart = 0;
        for (int i = 0; i < fields - 1; i++)
        {
            int later = fields - 1 - i, width = later * dim;
            for (int jj = 0; jj < later; jj++)
            {
                var up = u.Slice((pairStart + jj) * dim * dim, dim * dim);
                for (int a = 0; a < dim; a++)
                    for (int c = 0; c < dim; c++)
                        w[pairStart * dim * dim + a * width + jj * dim + c] = up[a * dim + c] + up[c * dim + a];
            }
            pairStart += later;
        }
        return w;
    }
}
