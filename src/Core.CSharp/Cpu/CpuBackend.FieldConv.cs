using System.Numerics.Tensors;
using CtrDsl.Backends;

namespace CtrDsl.Cpu;

public sealed unsafe partial class CpuBackend
{
    // A (h, 1) kernel moves along fields only, so each tap is one axpy over a contiguous [rows·dim] run:
    // y[b,o, f0..f1) += w[o,c,t]·x[b,c, f0+t−top..f1+t−top), no im2col needed. Samples are independent, so the
    // batch runs in fixed chunks on the worker pool; weight gradients are summed per chunk, then over chunks in order.
    private static (int dstStart, int srcStart, int rows) Tap(int t, int top, int fields)
    {
        int shift = t - top;                       // source row = f + shift
        int f0 = Math.Max(0, -shift), f1 = Math.Min(fields, fields - shift);
        return (f0, f0 + shift, Math.Max(0, f1 - f0));
    }

    private struct ConvShape
    {
        public int Batch, Cin, Cout, Fields, Dim, H;
        public readonly int Plane => Fields * Dim;
        public readonly int Top => (H - 1) / 2;
    }

    private struct ConvForwardJob : IParallelJob
    {
        public ConvShape S;
        public float* X, W, Bias, Y;

        public readonly void Run(int chunk)
        {
            var (start, end) = BatchChunks.Range(chunk, S.Batch);
            int plane = S.Plane;
            for (int b = start; b < end; b++)
                for (int o = 0; o < S.Cout; o++)
                {
                    var yo = new Span<float>(Y + (long)(b * S.Cout + o) * plane, plane);
                    yo.Fill(Bias[o]);
                    for (int c = 0; c < S.Cin; c++)
                    {
                        var xc = new ReadOnlySpan<float>(X + (long)(b * S.Cin + c) * plane, plane);
                        for (int t = 0; t < S.H; t++)
                        {
                            var (d, s, rows) = Tap(t, S.Top, S.Fields);
                            if (rows == 0) continue;
                            var dst = yo.Slice(d * S.Dim, rows * S.Dim);
                            TensorPrimitives.MultiplyAdd(xc.Slice(s * S.Dim, rows * S.Dim), W[(o * S.Cin + c) * S.H + t], dst, dst);
                        }
                    }
                }
        }
    }

    private struct ConvBackwardJob : IParallelJob
    {
        public ConvShape S;
        public float* X, W, DY, DX, Partials; // Partials: per chunk, dw then dbias
        public bool WantDx, WantDw, WantDbias;

        public readonly void Run(int chunk)
        {
            var (start, end) = BatchChunks.Range(chunk, S.Batch);
            int plane = S.Plane, wSize = S.Cout * S.Cin * S.H;
            float* dw = Partials + (long)chunk * (wSize + S.Cout);
            float* db = dw + wSize;
            new Span<float>(dw, wSize + S.Cout).Clear();
            for (int b = start; b < end; b++)
                for (int o = 0; o < S.Cout; o++)
                {
                    var g = new ReadOnlySpan<float>(DY + (long)(b * S.Cout + o) * plane, plane);
                    if (WantDbias) db[o] += TensorPrimitives.Sum(g);
                    for (int c = 0; c < S.Cin; c++)
                    {
                        long xOff = (long)(b * S.Cin + c) * plane;
                        for (int t = 0; t < S.H; t++)
                        {
                            var (d, s, rows) = Tap(t, S.Top, S.Fields);
                            if (rows == 0) continue;
                            var gr = g.Slice(d * S.Dim, rows * S.Dim);
                            if (WantDw) dw[(o * S.Cin + c) * S.H + t] += TensorPrimitives.Dot(gr, new ReadOnlySpan<float>(X + xOff + s * S.Dim, rows * S.Dim));
                            if (WantDx)
                            {
                                var dst = new Span<float>(DX + xOff + s * S.Dim, rows * S.Dim);
                                TensorPrimitives.MultiplyAdd(gr, W[(o * S.Cin + c) * S.H + t], dst, dst);
                            }
                        }
                    }
                }
        }
    }

    private float[]? _convPartials;

    public void FieldConv(int batch, int cin, int cout, int fields, int dim, int h, BufferView x, BufferView w, BufferView bias, BufferView y)
    {
        var shape = new ConvShape { Batch = batch, Cin = cin, Cout = cout, Fields = fields, Dim = dim, H = h };
        fixed (float* px = F(x), pw = F(w), pb = F(bias), py = F(y))
        {
            var job = new ConvForwardJob { S = shape, X = px, W = pw, Bias = pb, Y = py };
            WorkerPool.For(BatchChunks.Count(batch), ref job);
        }
    }

    public void FieldConvBackward(int batch, int cin, int cout, int fields, int dim, int h, BufferView x, BufferView w,
        BufferView dy, BufferView dx, BufferView dw, BufferView dbias)
    {
        var shape = new ConvShape { Batch = batch, Cin = cin, Cout = cout, Fields = fields, Dim = dim, H = h };
        int chunks = BatchChunks.Count(batch), wSize = cout * cin * h;
        var partials = BatchChunks.Scratch(ref _convPartials, (long)chunks * (wSize + cout));
        fixed (float* px = F(x), pw = F(w), pdy = F(dy), pdx = F(dx), pp = partials)
        {
            var job = new ConvBackwardJob
            {
                S = shape, X = px, W = pw, DY = pdy, DX = pdx, Partials = pp,
                WantDx = !dx.IsEmpty, WantDw = !dw.IsEmpty, WantDbias = !dbias.IsEmpty,
            };
            WorkerPool.For(chunks, ref job);
        }
        // Chunk partials summed in chunk order: the same bits for any thread count.
        var dws = F(dw);
        var dbs = F(dbias);
        for (int chunk = 0; chunk < chunks; chunk++)
        {
            var part = partials.AsSpan(chunk * (wSize + cout), wSize + cout);
            if (!dw.IsEmpty) TensorPrimitives.Add(dws, part[..wSize], dws);
            if (!dbias.IsEmpty) TensorPrimitives.Add(dbs, part[wSize..], dbs);
        }
    }

    private struct MaxPoolJob : IParallelJob
    {
        public int Channels, Fields, Dim, P, OutFields;
        public float* X, Y;
        public int* Argmax;

        public readonly void Run(int b)
        {
            for (int c = 0; c < Channels; c++)
            {
                int bc = b * Channels + c;
                float* xp = X + (long)bc * Fields * Dim;
                for (int of = 0; of < OutFields; of++)
                {
                    int f0 = of * P, f1 = Math.Min(Fields, f0 + P);
                    long outBase = ((long)bc * OutFields + of) * Dim;
                    for (int k = 0; k < Dim; k++)
                    {
                        int best = f0;
                        float v = xp[f0 * Dim + k];
                        for (int f = f0 + 1; f < f1; f++)
                        {
                            float cand = xp[f * Dim + k];
                            if (cand > v || float.IsNaN(cand)) { v = cand; best = f; }
                        }
                        Y[outBase + k] = v;
                        Argmax[outBase + k] = best;
                    }
                }
            }
        }
    }

    public void FieldMaxPool(int batch, int channels, int fields, int dim, int p, int outFields, BufferView x, BufferView y, BufferView argmax)
    {
        fixed (float* px = F(x), py = F(y))
        fixed (int* pa = I(argmax))
        {
            var job = new MaxPoolJob { Channels = channels, Fields = fields, Dim = dim, P = p, OutFields = outFields, X = px, Y = py, Argmax = pa };
            WorkerPool.For(batch, ref job);
        }
    }

    public void FieldMaxPoolBackward(int batch, int channels, int outFields, int dim, BufferView argmax, BufferView dy, BufferView dx, int fields)
    {
        if (dx.IsEmpty) return;
        var am = I(argmax); var dys = F(dy); var dxs = F(dx);
        for (int bc = 0; bc < batch * channels; bc++)
            for (int of = 0; of < outFields; of++)
            {
                int outBase = (bc * outFields + of) * dim;
                for (int k = 0; k < dim; k++)
                    dxs[(bc * fields + am[outBase + k]) * dim + k] += dys[outBase + k];
            }
    }
}
