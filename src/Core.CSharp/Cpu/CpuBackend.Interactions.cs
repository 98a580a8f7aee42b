using System.Numerics.Tensors;
using CtrDsl.Backends;

namespace CtrDsl.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void BiInteraction(int batch, int fields, int dim, BufferView x, BufferView y)
    {
        var xs = F(x);
        var ys = F(y);
        for (int b = 0; b < batch; b++)
        {
            var e = xs.Slice(b * fields * dim, fields * dim);
            var yr = ys.Slice(b * dim, dim);
            for (int k = 0; k < dim; k++)
            {
                float s = 0f, sq = 0f;
                for (int f = 0; f < fields; f++) { float v = e[f * dim + k]; s += v; sq += v * v; }
                yr[k] = 0.5f * (s * s - sq);
            }
        }
    }

    public void BiInteractionBackward(int batch, int fields, int dim, BufferView x, BufferView dy, BufferView dx)
    {
        if (dx.IsEmpty) return;
        var xs = F(x);
        var dys = F(dy);
        var dxs = F(dx);
        Span<float> sum = dim <= 256 ? stackalloc float[dim] : new float[dim];
        for (int b = 0; b < batch; b++)
        {
            var e = xs.Slice(b * fields * dim, fields * dim);
            var de = dxs.Slice(b * fields * dim, fields * dim);
            var g = dys.Slice(b * dim, dim);
            sum.Clear();
            for (int f = 0; f < fields; f++) TensorPrimitives.Add(sum, e.Slice(f * dim, dim), sum);
            // d/dx_f,k of ½[(Σx)² − Σx²] = Σ_g x_g,k − x_f,k.
            for (int f = 0; f < fields; f++)
                for (int k = 0; k < dim; k++) de[f * dim + k] += g[k] * (sum[k] - e[f * dim + k]);
        }
    }

    // Pairwise inner products with the sample's embeddings transposed to Eᵀ [dim; fields]: for a first field i, the
    // products with every later field are axpys over a contiguous run of Eᵀ, written straight into the pairs
    // (i, i+1) … (i, F−1), which are contiguous in combinations order. Samples run in parallel.
    private struct PairwiseInnerJob : IParallelJob
    {
        public int Fields, Dim, Pairs;
        public float* X, Y, DY, DX;
        public bool Backward;

        [ThreadStatic] private static float[]? t_transposed, t_gradTransposed;

        public readonly void Run(int b)
        {
            int fields = Fields, dim = Dim;
            var et = BatchChunks.Scratch(ref t_transposed, (long)fields * dim).AsSpan(0, fields * dim);
            float* e = X + (long)b * fields * dim;
            for (int f = 0; f < fields; f++)
                for (int a = 0; a < dim; a++) et[a * fields + f] = e[f * dim + a];
            if (!Backward)
            {
                var y = new Span<float>(Y + (long)b * Pairs, Pairs);
                int p = 0;
                for (int i = 0; i < fields - 1; i++)
                {
                    int later = fields - 1 - i;
                    var row = y.Slice(p, later);
                    row.Clear();
                    for (int a = 0; a < dim; a++)
                        TensorPrimitives.MultiplyAdd(et.Slice(a * fields + i + 1, later), e[i * dim + a], row, row);
                    p += later;
                }
                return;
            }
            var det = BatchChunks.Scratch(ref t_gradTransposed, (long)fields * dim).AsSpan(0, fields * dim);
            det.Clear();
            var g = new ReadOnlySpan<float>(DY + (long)b * Pairs, Pairs);
            float* de = DX + (long)b * fields * dim;
            int q = 0;
            for (int i = 0; i < fields - 1; i++)
            {
                int later = fields - 1 - i;
                var gi = g.Slice(q, later);
                for (int a = 0; a < dim; a++)
                {
                    // dx_i[a] += Σ_j g_ij·x_j[a]; dx_j[a] += g_ij·x_i[a] for every j > i.
                    de[i * dim + a] += TensorPrimitives.Dot(gi, et.Slice(a * fields + i + 1, later));
                    var dj = det.Slice(a * fields + i + 1, later);
                    TensorPrimitives.MultiplyAdd(gi, e[i * dim + a], dj, dj);
                }
                q += later;
            }
            for (int f = 0; f < fields; f++)
                for (int a = 0; a < dim; a++) de[f * dim + a] += det[a * fields + f];
        }
    }

    public void PairwiseInner(int batch, int fields, int dim, BufferView x, BufferView y)
    {
        fixed (float* px = F(x), py = F(y))
        {
            var job = new PairwiseInnerJob { Fields = fields, Dim = dim, Pairs = fields * (fields - 1) / 2, X = px, Y = py };
            WorkerPool.For(batch, ref job);
        }
    }

    public void PairwiseInnerBackward(int batch, int fields, int dim, BufferView x, BufferView dy, BufferView dx)
    {
        if (dx.IsEmpty) return;
        fixed (float* px = F(x), pdy = F(dy), pdx = F(dx))
        {
            var job = new PairwiseInnerJob { Fields = fields, Dim = dim, Pairs = fields * (fields - 1) / 2, X = px, DY = pdy, DX = pdx, Backward = true };
            WorkerPool.For(batch, ref job);
        }
    }

    // FEFM in GEMMs, one per first field i (as the reference does): with W_p = U_p + U_pᵀ laid out as
    // Wcat_i = [W_(i,i+1) | … | W_(i,F−1)] (k × n_i·k), T_i = X_i·Wcat_i holds x_iᵀW_p for every later field j,
    // and y[b, p] = ⟨T_i[b, block j], x_j[b]⟩. W is rebuilt from U at each call (pairs·k² values, tiny).
    public void Fefm(int batch, int fields, int dim, BufferView x, BufferView u, BufferView y)
    {
        var xs = F(x);
        var ys = F(y);
        int pairs = fields * (fields - 1) / 2;
        var wcat = FefmWeights(fields, dim, F(u));
        var t = Scratch(ref _fefmT, (long)batch * Math.Max(0, fields - 1) * dim);
        int row = fields * dim;
        int pairStart = 0;
        for (int i = 0; i < fields - 1; i++)
        {
            int later = fields - 1 - i, width = later * dim;
            var wi = wcat.AsSpan(pairStart * dim * dim, dim * width);
            Cpu.Gemm.Sgemm(Transpose.No, Transpose.No, batch, width, dim, 1f, xs.Slice(i * dim), row, wi, width, 0f, t, width);
            for (int b = 0; b < batch; b++)
            {
                var tb = t.AsSpan(b * width, width);
                var xb = xs.Slice(b * row, row);
                for (int jj = 0; jj < later; jj++)
                    ys[b * pairs + pairStart + jj] = TensorPrimitives.Dot(tb.Slice(jj * dim, dim), xb.Slice((i + 1 + jj) * dim, dim));
            }
            pairStart += later;
        }
    }

    public void FefmBackward(int batch, int fields, int dim, BufferView x, BufferView u, BufferView dy, BufferView dx, BufferView du)
    {
        var xs = F(x);
        var dys = F(dy);
        var dxs = F(dx);
        int pairs = fields * (fields - 1) / 2;
        var wcat = FefmWeights(fields, dim, F(u));
        long cap = (long)batch * Math.Max(0, fields - 1) * dim;
        var t = Scratch(ref _fefmT, cap);
        var gbuf = Scratch(ref _fefmG, cap);
        var dwcat = Scratch(ref _fefmDW, (long)pairs * dim * dim);
        int row = fields * dim;
        int pairStart = 0;
        for (int i = 0; i < fields - 1; i++)
        {
            int later = fields - 1 - i, width = later * dim;
            var wi = wcat.AsSpan(pairStart * dim * dim, dim * width);
            var xi = xs.Slice(i * dim);
            // G_i[b, block j] = dy[b, p]·x_j[b]
            for (int b = 0; b < batch; b++)
            {
                var gb = gbuf.AsSpan(b * width, width);
                var xb = xs.Slice(b * row, row);
                for (int jj = 0; jj < later; jj++)
                    TensorPrimitives.Multiply(xb.Slice((i + 1 + jj) * dim, dim), dys[b * pairs + pairStart + jj], gb.Slice(jj * dim, dim));
            }
            if (!dx.IsEmpty)
            {
                // dx_i += G_i·Wcat_iᵀ (W symmetric), and dx_j += dy·(W_p x_i) = dy·T_i[block j].
                Cpu.Gemm.Sgemm(Transpose.No, Transpose.Yes, batch, dim, width, 1f, gbuf, width, wi, width, 1f, dxs.Slice(i * dim), row);
                Cpu.Gemm.Sgemm(Transpose.No, Transpose.No, batch, width, dim, 1f, xi, row, wi, width, 0f, t, width);
                for (int b = 0; b < batch; b++)
                {
                    var tb = t.AsSpan(b * width, width);
                    for (int jj = 0; jj < later; jj++)
                    {
                        var dj = dxs.Slice(b * row + (i + 1 + jj) * dim, dim);
                        TensorPrimitives.MultiplyAdd(tb.Slice(jj * dim, dim), dys[b * pairs + pairStart + jj], dj, dj);
                    }
                }
            }
            if (!du.IsEmpty)
                // dWcat_i = X_iᵀ·G_i (k × n_i·k)
                Cpu.Gemm.Sgemm(Transpose.Yes, Transpose.No, dim, width, batch, 1f, xi, row, gbuf, width, 0f,
                    dwcat.AsSpan(pairStart * dim * dim, dim * width), width);
            pairStart += later;
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
        var w = Scratch(ref _fefmW, (long)pairs * dim * dim);
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

    /// <summary>A scratch array kept by the backend, grown only when a larger size is first needed.</summary>
    private static float[] Scratch(ref float[]? slot, long length)
    {
        if (slot is null || slot.LongLength < length) slot = new float[Math.Max(length, 1)];
        return slot;
    }
}
