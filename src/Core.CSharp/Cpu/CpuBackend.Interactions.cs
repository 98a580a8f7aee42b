using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using CtrDsl.Backends;

namespace CtrDsl.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void BiInteraction(int batch, int fields, int dim, BufferView x, BufferView y)
    {
        fixed (float* px = F(x), py = F(y))
        {
            var job = new BiInteractionJob { Batch = batch, Fields = fields, Dim = dim, X = px, Y = py };
            WorkerPool.For(BatchChunks.Count(batch), ref job);
        }
    }

    public void BiInteractionBackward(int batch, int fields, int dim, BufferView x, BufferView dy, BufferView dx)
    {
        if (dx.IsEmpty) return;
        fixed (float* px = F(x), pdy = F(dy), pdx = F(dx))
        {
            var job = new BiInteractionJob { Batch = batch, Fields = fields, Dim = dim, X = px, DY = pdy, DX = pdx, Backward = true };
            WorkerPool.For(BatchChunks.Count(batch), ref job);
        }
    }

    // FM's bi-interaction, ½[(Σ_f x_f)² − Σ_f x_f²] per sample, and its gradient Σ_g x_g − x_f, over fixed chunks of
    // samples on the pool. Every element's sums run over the fields in order on every path, so the bits depend neither
    // on the width nor on the thread count. For dim ≤ 16 one 16-lane vector holds a field (lanes past dim read the
    // next field and are ignored or written back unchanged); a sample's last field always takes the scalar loop, so
    // nothing outside the sample is read or written (fields whose 16 lanes would cross the sample's end go scalar).
    private struct BiInteractionJob : IParallelJob
    {
        public int Batch, Fields, Dim;
        public float* X, Y, DY, DX;
        public bool Backward;

        [ThreadStatic] private static float[]? t_sums;

        public readonly void Run(int chunk)
        {
            var (start, end) = BatchChunks.Range(chunk, Batch);
            int dim = Dim, fd = Fields * dim, width = Math.Max(16, dim);
            // Fields whose 16 lanes stay inside the sample; the rest take the scalar loop.
            int wideFields = Vector512.IsHardwareAccelerated && dim <= 16 && fd >= 16 ? Math.Min(Fields - 1, (fd - 16) / dim + 1) : 0;
            bool wide = wideFields > 0;
            var keep = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(dim)).AsSingle();
            fixed (float* sum = BatchChunks.Scratch(ref t_sums, 3L * width))
            {
                float* sq = sum + width, g16 = sq + width;
                for (int b = start; b < end; b++)
                {
                    float* e = X + (long)b * fd;
                    int f = 0;
                    if (wide)
                    {
                        var s = Vector512<float>.Zero;
                        var q = Vector512<float>.Zero;
                        for (; f < wideFields; f++)
                        {
                            var v = Vector512.Load(e + f * dim);
                            s += v;
                            q += v * v;
                        }
                        s.Store(sum);
                        q.Store(sq);
                    }
                    else
                    {
                        for (int k = 0; k < dim; k++) { sum[k] = 0f; sq[k] = 0f; }
                    }
                    for (; f < Fields; f++)
                        for (int k = 0; k < dim; k++) { float v = e[f * dim + k]; sum[k] += v; sq[k] += v * v; }

                    if (!Backward)
                    {
                        float* y = Y + (long)b * dim;
                        for (int k = 0; k < dim; k++) y[k] = 0.5f * (sum[k] * sum[k] - sq[k]);
                        continue;
                    }
                    float* g = DY + (long)b * dim, de = DX + (long)b * fd;
                    f = 0;
                    if (wide)
                    {
                        for (int k = 0; k < 16; k++) g16[k] = k < dim ? g[k] : 0f;
                        var gv = Vector512.Load(g16);
                        var sv = Vector512.Load(sum);
                        for (; f < wideFields; f++)
                        {
                            float* d = de + f * dim;
                            var old = Vector512.Load(d);
                            Vector512.ConditionalSelect(keep, old + gv * (sv - Vector512.Load(e + f * dim)), old).Store(d);
                        }
                    }
                    for (; f < Fields; f++)
                        for (int k = 0; k < dim; k++) de[f * dim + k] += g[k] * (sum[k] - e[f * dim + k]);
                }
            }
        }
    }

    public void PairwiseProduct(int batch, int fields, int dim, BufferView a, BufferView b, BufferView y) =>
        RowProducts(batch, fields, fields, dim, upper: true, F(a), F(b), F(y));

    public void PairwiseProductBackward(int batch, int fields, int dim, BufferView a, BufferView b, BufferView dy, BufferView da, BufferView db) =>
        RowProductsBackward(batch, fields, fields, dim, upper: true, F(a), F(b), F(dy), F(da), F(db));

    public void FieldOuter(int batch, int rows, int fields, int dim, BufferView h, BufferView x0, BufferView z) =>
        RowProducts(batch, rows, fields, dim, upper: false, F(h), F(x0), F(z));

    public void FieldOuterBackward(int batch, int rows, int fields, int dim, BufferView h, BufferView x0, BufferView dz, BufferView dh, BufferView dx0) =>
        RowProductsBackward(batch, rows, fields, dim, upper: false, F(h), F(x0), F(dz), F(dh), F(dx0));

    // PairwiseProduct and FieldOuter are one loop: per sample, output row q = a_i ⊙ b_j for i over a's rows
    // (outer) and j over b's rows (inner), all of them (FieldOuter) or only j > i (the pairs, in combinations order).
    private static void RowProducts(int batch, int rowsA, int rowsB, int dim, bool upper, Span<float> a, Span<float> b, Span<float> y)
    {
        int q = 0;
        for (int s = 0; s < batch; s++)
        {
            var sa = a.Slice(s * rowsA * dim, rowsA * dim);
            var sb = b.Slice(s * rowsB * dim, rowsB * dim);
            for (int i = 0; i < rowsA; i++)
                for (int j = upper ? i + 1 : 0; j < rowsB; j++, q++)
                    TensorPrimitives.Multiply(sa.Slice(i * dim, dim), sb.Slice(j * dim, dim), y.Slice(q * dim, dim));
        }
    }

    // Reads only a, b and dy, so da and db may be one buffer (a = b in the graph): both halves accumulate into it.
    private static void RowProductsBackward(int batch, int rowsA, int rowsB, int dim, bool upper,
        Span<float> a, Span<float> b, Span<float> dy, Span<float> da, Span<float> db)
    {
        bool wantA = !da.IsEmpty, wantB = !db.IsEmpty;
        int q = 0;
        for (int s = 0; s < batch; s++)
        {
            int oa = s * rowsA * dim, ob = s * rowsB * dim;
            for (int i = 0; i < rowsA; i++)
                for (int j = upper ? i + 1 : 0; j < rowsB; j++, q++)
                {
                    var g = dy.Slice(q * dim, dim);
                    if (wantA)
                    {
                        var d = da.Slice(oa + i * dim, dim);
                        TensorPrimitives.MultiplyAdd(g, b.Slice(ob + j * dim, dim), d, d);
                    }
                    if (wantB)
                    {
                        var d = db.Slice(ob + j * dim, dim);
                        TensorPrimitives.MultiplyAdd(g, a.Slice(oa + i * dim, dim), d, d);
                    }
                }
        }
    }

    public void PairRows(int batch, int fields, int dim, bool second, BufferView x, BufferView y)
    {
        var xs = F(x);
        var ys = F(y);
        int q = 0;
        for (int s = 0; s < batch; s++)
            for (int i = 0; i < fields; i++)
                for (int j = i + 1; j < fields; j++, q++)
                    xs.Slice((s * fields + (second ? j : i)) * dim, dim).CopyTo(ys.Slice(q * dim, dim));
    }

    public void PairRowsBackward(int batch, int fields, int dim, bool second, BufferView dy, BufferView dx)
    {
        if (dx.IsEmpty) return;
        var dys = F(dy);
        var dxs = F(dx);
        int q = 0;
        for (int s = 0; s < batch; s++)
            for (int i = 0; i < fields; i++)
                for (int j = i + 1; j < fields; j++, q++)
                {
                    var d = dxs.Slice((s * fields + (second ? j : i)) * dim, dim);
                    TensorPrimitives.Add(d, dys.Slice(q * dim, dim), d);
                }
    }

    public void FieldAwareInner(int batch, int fields, int dim, BufferView x, BufferView y)
    {
        var xs = F(x);
        var ys = F(y);
        int row = fields * dim, pairs = fields * (fields - 1) / 2;
        for (int s = 0; s < batch; s++)
        {
            var e = xs.Slice(s * fields * row, fields * row);
            var yr = ys.Slice(s * pairs, pairs);
            int p = 0;
            for (int i = 0; i < fields; i++)
                for (int j = i + 1; j < fields; j++)
                    yr[p++] = TensorPrimitives.Dot(e.Slice(i * row + j * dim, dim), e.Slice(j * row + i * dim, dim));
        }
    }

    public void FieldAwareInnerBackward(int batch, int fields, int dim, BufferView x, BufferView dy, BufferView dx)
    {
        if (dx.IsEmpty) return;
        var xs = F(x);
        var dys = F(dy);
        var dxs = F(dx);
        int row = fields * dim, pairs = fields * (fields - 1) / 2;
        for (int s = 0; s < batch; s++)
        {
            var e = xs.Slice(s * fields * row, fields * row);
            var de = dxs.Slice(s * fields * row, fields * row);
            var g = dys.Slice(s * pairs, pairs);
            int p = 0;
            for (int i = 0; i < fields; i++)
                for (int j = i + 1; j < fields; j++)
                {
                    float gp = g[p++];
                    var dij = de.Slice(i * row + j * dim, dim);
                    var dji = de.Slice(j * row + i * dim, dim);
                    TensorPrimitives.MultiplyAdd(e.Slice(j * row + i * dim, dim), gp, dij, dij);
                    TensorPrimitives.MultiplyAdd(e.Slice(i * row + j * dim, dim), gp, dji, dji);
                }
        }
    }

    public void PairwiseOuter(int batch, int fields, int dim, BufferView x, BufferView y)
    {
        var xs = F(x);
        var ys = F(y);
        int block = dim * dim, q = 0;
        for (int s = 0; s < batch; s++)
        {
            var e = xs.Slice(s * fields * dim, fields * dim);
            for (int i = 0; i < fields; i++)
                for (int j = i + 1; j < fields; j++, q++)
                {
                    var xi = e.Slice(i * dim, dim);
                    var xj = e.Slice(j * dim, dim);
                    var yp = ys.Slice(q * block, block);
                    for (int r = 0; r < dim; r++) TensorPrimitives.Multiply(xj, xi[r], yp.Slice(r * dim, dim));
                }
        }
    }

    public void PairwiseOuterBackward(int batch, int fields, int dim, BufferView x, BufferView dy, BufferView dx)
    {
        if (dx.IsEmpty) return;
        var xs = F(x);
        var dys = F(dy);
        var dxs = F(dx);
        int block = dim * dim, q = 0;
        for (int s = 0; s < batch; s++)
        {
            var e = xs.Slice(s * fields * dim, fields * dim);
            var de = dxs.Slice(s * fields * dim, fields * dim);
            for (int i = 0; i < fields; i++)
                for (int j = i + 1; j < fields; j++, q++)
                {
                    var xi = e.Slice(i * dim, dim);
                    var xj = e.Slice(j * dim, dim);
                    var di = de.Slice(i * dim, dim);
                    var dj = de.Slice(j * dim, dim);
                    var g = dys.Slice(q * block, block);
                    // y_p[r, c] = x_i[r]·x_j[c]: row r of dy_p dotted with x_j gives dx_i[r]; the rows weighted by x_i sum to dx_j.
                    for (int r = 0; r < dim; r++)
                    {
                        var gr = g.Slice(r * dim, dim);
                        di[r] += TensorPrimitives.Dot(gr, xj);
                        TensorPrimitives.MultiplyAdd(gr, xi[r], dj, dj);
                    }
                }
        }
    }
}
