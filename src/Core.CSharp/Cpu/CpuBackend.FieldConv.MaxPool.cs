using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using CtrDsl.Backends;

namespace CtrDsl.Cpu;

// The field convolution family's max pooling over windows of fields (FGCNN), beside the convolution itself in
// CpuBackend.FieldConv.cs.
public sealed unsafe partial class CpuBackend
{
    // Max-pooling keeps no arg-max: the forward pass keeps the first maximum of each window (a larger value replaces
    // it, an equal one does not; the first NaN replaces it and stays), and the backward pass finds that row again as
    // the first one equal to y (or, when y is NaN, the first NaN). Windows do not overlap, so each sample's gradient
    // rows are its own and the samples run on the pool.

    private struct MaxPoolShape
    {
        public int Channels, Fields, Dim, P, OutFields;

        /// <summary>Rows [f0, f1) of window <paramref name="of"/>.</summary>
        public readonly (int F0, int F1) Window(int of) => (of * P, Math.Min(Fields, of * P + P));

        /// <summary>The lanes of a row's 16 columns from <paramref name="k"/> that lie inside the row.</summary>
        public readonly Vector512<float> Lanes(int k) =>
            Vector512.LessThan(Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), Vector512.Create(Dim - k)).AsSingle();
    }

    private struct MaxPoolJob : IParallelJob
    {
        public MaxPoolShape S;
        public float* X, Y;

        public readonly void Run(int b)
        {
            if (Avx512F.IsSupported)
            {
                Run512(b);
                return;
            }
            for (int bc = b * S.Channels; bc < (b + 1) * S.Channels; bc++)
            {
                float* xp = X + (long)bc * S.Fields * S.Dim;
                for (int of = 0; of < S.OutFields; of++)
                {
                    var (f0, f1) = S.Window(of);
                    float* yp = Y + ((long)bc * S.OutFields + of) * S.Dim;
                    int k = 0;
                    if (Vector256.IsHardwareAccelerated)
                        for (; k + 8 <= S.Dim; k += 8)
                        {
                            var v = Vector256.Load(xp + f0 * S.Dim + k);
                            for (int f = f0 + 1; f < f1; f++)
                            {
                                var cand = Vector256.Load(xp + f * S.Dim + k);
                                var wins = Vector256.GreaterThan(cand, v) | (~Vector256.Equals(cand, cand) & Vector256.Equals(v, v));
                                v = Vector256.ConditionalSelect(wins, cand, v);
                            }
                            v.Store(yp + k);
                        }
                    for (; k < S.Dim; k++)
                    {
                        float v = xp[f0 * S.Dim + k];
                        for (int f = f0 + 1; f < f1; f++)
                        {
                            float cand = xp[f * S.Dim + k];
                            if (cand > v || (float.IsNaN(cand) && !float.IsNaN(v))) v = cand;
                        }
                        yp[k] = v;
                    }
                }
            }
        }

    /// <summary>Sample b of <see cref="MaxPoolJob"/> with AVX-512: a window row is one masked vector per 16
        /// columns, so a row of 10 (FGCNN's k) is one load instead of a half-empty vector and a scalar tail.</summary>
        private readonly void Run512(int b)
        {
            for (int bc = b * S.Channels; bc < (b + 1) * S.Channels; bc++)
            {
                float* xp = X + (long)bc * S.Fields * S.Dim;
                for (int k = 0; k < S.Dim; k += 16)
                {
                    var lanes = S.Lanes(k);
                    for (int of = 0; of < S.OutFields; of++)
                    {
                        var (f0, f1) = S.Window(of);
                        var v = Avx512F.MaskLoad(xp + f0 * S.Dim + k, lanes, default);
                        for (int f = f0 + 1; f < f1; f++)
                        {
                            var cand = Avx512F.MaskLoad(xp + f * S.Dim + k, lanes, default);
                            var wins = Vector512.GreaterThan(cand, v) | (~Vector512.Equals(cand, cand) & Vector512.Equals(v, v));
                            v = Vector512.ConditionalSelect(wins, cand, v);
                        }
                        Avx512F.MaskStore(Y + ((long)bc * S.OutFields + of) * S.Dim + k, lanes, v);
                    }
                }
            }
        }
    }

    private struct MaxPoolBackwardJob : IParallelJob
    {
        public MaxPoolShape S;
        public float* X, Y, DY, DX;
        /// <summary>Add into dx; else the sample's dx is cleared first (while it is in cache, where zeroing the whole
        /// buffer beforehand and adding cost FGCNN's first pool two more passes over 89 MB).</summary>
        public bool Accumulate;

        public readonly void Run(int b)
        {
            if (!Accumulate) new Span<float>(DX + (long)b * S.Channels * S.Fields * S.Dim, S.Channels * S.Fields * S.Dim).Clear();
            if (Avx512F.IsSupported)
            {
                Run512(b);
                return;
            }
            for (int bc = b * S.Channels; bc < (b + 1) * S.Channels; bc++)
            {
                long plane = (long)bc * S.Fields * S.Dim;
                for (int of = 0; of < S.OutFields; of++)
                {
                    var (f0, f1) = S.Window(of);
                    long outBase = ((long)bc * S.OutFields + of) * S.Dim;
                    int k = 0;
                    if (Vector256.IsHardwareAccelerated)
                        for (; k + 8 <= S.Dim; k += 8)
                            RouteEight(X + plane + k, DX + plane + k, f0, f1, Vector256.Load(Y + outBase + k), Vector256.Load(DY + outBase + k));
                    for (; k < S.Dim; k++)
                    {
                        float y = Y[outBase + k];
                        for (int f = f0; f < f1; f++)
                        {
                            float xv = X[plane + f * S.Dim + k];
                            if (xv == y || (float.IsNaN(xv) && float.IsNaN(y)))
                            {
                                DX[plane + f * S.Dim + k] += DY[outBase + k];
                                break;
                            }
                        }
                    }
                }
            }
        }

        /// <summary>Sample b with AVX-512: masked vectors of 16 columns, as the forward pass (<see cref="MaxPoolJob"/>);
        /// only the lanes a row takes are loaded and stored, so the other rows' dx keep their bits.</summary>
        private readonly void Run512(int b)
        {
            for (int bc = b * S.Channels; bc < (b + 1) * S.Channels; bc++)
            {
                long plane = (long)bc * S.Fields * S.Dim;
                for (int k = 0; k < S.Dim; k += 16)
                {
                    var lanes = S.Lanes(k);
                    for (int of = 0; of < S.OutFields; of++)
                    {
                        var (f0, f1) = S.Window(of);
                        long outBase = ((long)bc * S.OutFields + of) * S.Dim + k;
                        var y = Avx512F.MaskLoad(Y + outBase, lanes, default);
                        var g = Avx512F.MaskLoad(DY + outBase, lanes, default);
                        var yNaN = ~Vector512.Equals(y, y);
                        var pending = lanes;
                        for (int f = f0; f < f1 && pending.ExtractMostSignificantBits() != 0; f++)
                        {
                            float* x = X + plane + f * S.Dim + k, dx = DX + plane + f * S.Dim + k;
                            var xv = Avx512F.MaskLoad(x, pending, default);
                            var hit = (Vector512.Equals(xv, y) | (yNaN & ~Vector512.Equals(xv, xv))) & pending;
                            if (hit.ExtractMostSignificantBits() == 0) continue;
                            Avx512F.MaskStore(dx, hit, Avx512F.MaskLoad(dx, hit, default) + g);
                            pending &= ~hit;
                        }
                    }
                }
            }
        }

        /// <summary>Adds g to the first row f in [f0, f1) of eight columns where x[f] matches y; rows are
        /// <see cref="MaxPoolShape.Dim"/> apart and the other rows' dx keep their bits.</summary>
        private readonly void RouteEight(float* x, float* dx, int f0, int f1, Vector256<float> y, Vector256<float> g)
        {
            var yNaN = ~Vector256.Equals(y, y);
            var pending = Vector256<float>.AllBitsSet;
            for (int f = f0; f < f1 && pending.ExtractMostSignificantBits() != 0; f++)
            {
                var xv = Vector256.Load(x + f * S.Dim);
                var hit = (Vector256.Equals(xv, y) | (yNaN & ~Vector256.Equals(xv, xv))) & pending;
                if (hit.ExtractMostSignificantBits() == 0) continue;
                float* d = dx + f * S.Dim;
                var dv = Vector256.Load(d);
                Vector256.ConditionalSelect(hit, dv + g, dv).Store(d);
                pending &= ~hit;
            }
        }
    }

    public void FieldMaxPool(int batch, int channels, int fields, int dim, int p, int outFields, BufferView x, BufferView y)
    {
        fixed (float* px = F(x), py = F(y))
        {
            var job = new MaxPoolJob { S = PoolShape(channels, fields, dim, p, outFields), X = px, Y = py };
            WorkerPool.For(batch, ref job);
        }
    }

    public void FieldMaxPoolBackward(int batch, int channels, int fields, int dim, int p, int outFields, BufferView x, BufferView y,
        BufferView dy, BufferView dx, bool accumulate)
    {
        if (dx.IsEmpty) return;
        fixed (float* px = F(x), py = F(y), pdy = F(dy), pdx = F(dx))
        {
            var job = new MaxPoolBackwardJob
            {
                S = PoolShape(channels, fields, dim, p, outFields), X = px, Y = py, DY = pdy, DX = pdx, Accumulate = accumulate,
            };
            WorkerPool.For(batch, ref job);
        }
    }

    private static MaxPoolShape PoolShape(int channels, int fields, int dim, int p, int outFields) =>
        new() { Channels = channels, Fields = fields, Dim = dim, P = p, OutFields = outFields };
}
