using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using CtrDsl.Backends;

namespace CtrDsl.Cpu;

// The interactions family's field-embedded factorisation machine (DeepFEFM): y[b, p] = x_iᵀ W_p x_j for every field
// pair p = (i, j), i < j, with W_p = U_p + U_pᵀ (symmetric).
public sealed unsafe partial class CpuBackend
{
    // The samples are the vector lanes: a block of w rows (16, or 8 with AVX2 only) is transposed to Xᵀ [fields·dim; w]
    // (zeros past the batch), and each pair's k×k form is applied to w samples at once with W's elements broadcast:
    // t = W_p·x_j (k² FMAs, four rows of W per pass over x_j), y = Σ_a x_i[a]·t[a]. Nothing of size batch × pairs × k
    // is written, and W (about 300 KB for 741 pairs) stays in the caches.
    // Backward, per block (the rows are the block's own, so any thread count gives the same bits):
    //   dx_i += dy ⊙ W_p·x_j and dx_j += dy ⊙ W_p·x_i (W symmetric), in pair order;
    // and per pair over the whole batch (the pairs are split over the pool; each sums its rows in one order):
    //   dW_p[a, c] = Σ_b dy[b, p]·x_i[b, a]·x_j[b, c], and dU_p += dW_p + dW_pᵀ.
    // The backward's first job also leaves Xᵀ and dyᵀ for the whole batch ([fields·dim; padded batch] and
    // [pairs; padded batch]) for the second. Without AVX2 and FMA, plain loops per sample.
    internal struct FefmJob : IParallelJob
    {
        public int Batch, Fields, Dim, Pairs, Padded;
        /// <summary>W [pairs; dim; dim], symmetric.</summary>
        public float* W;
        public float* X, Y, DY, DX, DU;
        /// <summary>Xᵀ and dyᵀ over the whole padded batch (backward only).</summary>
        public float* XT, DYT;
        public FefmPass Pass;

        /// <summary>Lanes of the vector path: 16, 8 or 0 (plain loops). Tests set it lower to check every path.</summary>
        internal static int Width = PairwiseInnerJob.Width;

        [ThreadStatic] private static float[]? t_scratch;

        /// <summary>Rows per tile of the weight gradient's pass over the batch (a multiple of 16).</summary>
        private const int FefmTile = 512;

        public readonly void Run(int index)
        {
            if (Width == 16) Run<Vector512<float>, Lanes512>(index);
            else if (Width == 8) Run<Vector256<float>, Lanes256>(index);
            else if (Pass == FefmPass.Forward) ForwardScalar(index);
            else if (Pass == FefmPass.Inputs) InputsScalar(index);
            else WeightsScalar(index);
        }

        private readonly void Run<TV, TL>(int index) where TV : struct where TL : struct, ILanes<TV>
        {
            if (Pass == FefmPass.Weights) { Weights<TV, TL>(index); return; }
            int w = TL.Count, start = index * w, rows = Math.Min(w, Batch - start), n = Fields * Dim;
            // Per block: Xᵀ (forward) or dXᵀ, then y or dy (transposed), then t and u (dim vectors each).
            long size = (long)n * w + (long)Pairs * w + 2L * Dim * w + 16;
            fixed (float* scratch = BatchChunks.Scratch(ref t_scratch, size))
            {
                float* local = (float*)(((nint)scratch + 63) & ~(nint)63), rowsT = local + (long)n * w, t = rowsT + (long)Pairs * w, u = t + Dim * w;
                if (Pass == FefmPass.Forward)
                {
                    Transpose(X + (long)start * n, n, rows, local, w, w);
                    ForwardBlock<TV, TL>(local, w, rowsT, t);
                    for (int l = 0; l < rows; l++)
                        for (int p = 0; p < Pairs; p++) Y[(long)(start + l) * Pairs + p] = rowsT[p * w + l];
                    return;
                }
                // Xᵀ and dyᵀ of this block into the whole batch's copies, then dXᵀ in local.
                Transpose(X + (long)start * n, n, rows, XT + start, Padded, w);
                Transpose(DY + (long)start * Pairs, Pairs, rows, DYT + start, Padded, w);
                if (DX == null) return;
                new Span<float>(local, n * w).Clear();
                InputsBlock<TV, TL>(XT + start, DYT + start, local, t, u);
                for (int l = 0; l < rows; l++)
                    for (int k = 0; k < n; k++) DX[(long)(start + l) * n + k] += local[k * w + l];
            }
        }

        /// <summary>dst[k·ld + l] = src[l·n + k] for the rows l &lt; rows, zeros for rows ≤ l &lt; w.</summary>
        private static void Transpose(float* src, int n, int rows, float* dst, long ld, int w)
        {
            for (int k = 0; k < n; k++)
            {
                float* d = dst + k * ld;
                for (int l = 0; l < rows; l++) d[l] = src[(long)l * n + k];
                for (int l = rows; l < w; l++) d[l] = 0f;
            }
        }

        /// <summary>t[a] = Σ_c W[a, c]·x[c] over the lanes, for a &lt; dim (x's rows ld floats apart, t's w apart),
        /// four rows of W per pass over x.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Apply<TV, TL>(float* wp, int dim, float* x, long ld, float* t) where TV : struct where TL : struct, ILanes<TV>
        {
            int w = TL.Count, a = 0;
            for (; a + 4 <= dim; a += 4)
            {
                TV s0 = TL.Zero, s1 = TL.Zero, s2 = TL.Zero, s3 = TL.Zero;
                float* r = wp + a * dim;
                for (int c = 0; c < dim; c++)
                {
                    var xc = TL.Load(x + c * ld);
                    s0 = TL.Fma(TL.Broadcast(r[c]), xc, s0);
                    s1 = TL.Fma(TL.Broadcast(r[dim + c]), xc, s1);
                    s2 = TL.Fma(TL.Broadcast(r[2 * dim + c]), xc, s2);
                    s3 = TL.Fma(TL.Broadcast(r[3 * dim + c]), xc, s3);
                }
                TL.Store(s0, t + a * w); TL.Store(s1, t + (a + 1) * w); TL.Store(s2, t + (a + 2) * w); TL.Store(s3, t + (a + 3) * w);
            }
            for (; a < dim; a++)
            {
                TV s = TL.Zero;
                for (int c = 0; c < dim; c++) s = TL.Fma(TL.Broadcast(wp[a * dim + c]), TL.Load(x + c * ld), s);
                TL.Store(s, t + a * w);
            }
        }

        private readonly void ForwardBlock<TV, TL>(float* xt, long ld, float* yt, float* t) where TV : struct where TL : struct, ILanes<TV>
        {
            int w = TL.Count, dim = Dim, p = 0;
            for (int i = 0; i < Fields - 1; i++)
                for (int j = i + 1; j < Fields; j++, p++)
                {
                    Apply<TV, TL>(W + (long)p * dim * dim, dim, xt + j * dim * ld, ld, t);
                    TV s = TL.Zero;
                    for (int a = 0; a < dim; a++) s = TL.Fma(TL.Load(xt + (i * dim + a) * ld), TL.Load(t + a * w), s);
                    TL.Store(s, yt + p * w);
                }
        }

        /// <summary>dXᵀ (local, [fields·dim; w]) += per pair dy ⊙ W_p·x_j at field i and dy ⊙ W_p·x_i at field j.</summary>
        private readonly void InputsBlock<TV, TL>(float* xt, float* dyt, float* dxt, float* t, float* u) where TV : struct where TL : struct, ILanes<TV>
        {
            int w = TL.Count, dim = Dim, p = 0;
            long ld = Padded;
            for (int i = 0; i < Fields - 1; i++)
                for (int j = i + 1; j < Fields; j++, p++)
                {
                    float* wp = W + (long)p * dim * dim;
                    Apply<TV, TL>(wp, dim, xt + j * dim * ld, ld, t);
                    Apply<TV, TL>(wp, dim, xt + i * dim * ld, ld, u);
                    var g = TL.Load(dyt + p * ld);
                    for (int a = 0; a < dim; a++)
                    {
                        float* di = dxt + (i * dim + a) * w, dj = dxt + (j * dim + a) * w;
                        TL.Store(TL.Fma(g, TL.Load(t + a * w), TL.Load(di)), di);
                        TL.Store(TL.Fma(g, TL.Load(u + a * w), TL.Load(dj)), dj);
                    }
                }
        }

        /// <summary>Pair <paramref name="p"/>'s dW over the whole batch (lane sums over the blocks, then across the
        /// lanes in order), added into dU_p as dW + dWᵀ.</summary>
        private readonly void Weights<TV, TL>(int p) where TV : struct where TL : struct, ILanes<TV>
        {
            int w = TL.Count, dim = Dim, i = 0, first = 0;
            while (first + Fields - 1 - i <= p) { first += Fields - 1 - i; i++; }
            int j = i + 1 + p - first;
            long ld = Padded;
            float* xi = XT + (long)i * dim * ld, xj = XT + (long)j * dim * ld, g = DYT + p * ld;
            // Over tiles of the batch, so that the pair's 2·dim rows of Xᵀ are read from memory once: per tile, for
            // each a and four c at a time, lane sums in registers added into acc [dim; dim; w].
            int size = dim * dim * (w + 1) + 4 * w;
            fixed (float* scratch = BatchChunks.Scratch(ref t_scratch, size))
            {
                float* acc = scratch, dw = acc + dim * dim * w + 4 * w;
                new Span<float>(acc, size).Clear();
                for (long b0 = 0; b0 < ld; b0 += FefmTile)
                {
                    long b1 = Math.Min(ld, b0 + FefmTile);
                    for (int a = 0; a < dim; a++)
                        for (int c = 0; c < dim; c += 4)
                        {
                            int m = Math.Min(4, dim - c);
                            float* at = acc + (a * dim + c) * w;
                            TV s0 = TL.Load(at), s1 = TL.Load(at + w), s2 = TL.Load(at + 2 * w), s3 = TL.Load(at + 3 * w);
                            float* x0 = xj + c * ld, x1 = xj + (c + Math.Min(1, m - 1)) * ld, x2 = xj + (c + Math.Min(2, m - 1)) * ld, x3 = xj + (c + m - 1) * ld;
                            for (long b = b0; b < b1; b += w)
                            {
                                var h = TL.Fma(TL.Load(g + b), TL.Load(xi + a * ld + b), TL.Zero);
                                s0 = TL.Fma(h, TL.Load(x0 + b), s0);
                                s1 = TL.Fma(h, TL.Load(x1 + b), s1);
                                s2 = TL.Fma(h, TL.Load(x2 + b), s2);
                                s3 = TL.Fma(h, TL.Load(x3 + b), s3);
                            }
                            // With m < 4 the loads past c + m read other slots or acc's slack; only the m real sums
                            // are stored.
                            TL.Store(s0, at);
                            if (m > 1) TL.Store(s1, at + w);
                            if (m > 2) TL.Store(s2, at + 2 * w);
                            if (m > 3) TL.Store(s3, at + 3 * w);
                        }
                }
                for (int q = 0; q < dim * dim; q++)
                {
                    float sum = 0f;
                    for (int l = 0; l < w; l++) sum += acc[q * w + l];
                    dw[q] = sum;
                }
                float* du = DU + (long)p * dim * dim;
                for (int a = 0; a < dim; a++)
                    for (int c = 0; c < dim; c++) du[a * dim + c] += dw[a * dim + c] + dw[c * dim + a];
            }
        }

        private readonly void WeightsScalar(int p)
        {
            int dim = Dim, i = 0, first = 0;
            while (first + Fields - 1 - i <= p) { first += Fields - 1 - i; i++; }
            int j = i + 1 + p - first;
            long ld = Padded;
            float* xi = XT + (long)i * dim * ld, xj = XT + (long)j * dim * ld, g = DYT + p * ld, du = DU + (long)p * dim * dim;
            for (int a = 0; a < dim; a++)
                for (int c = a; c < dim; c++)
                {
                    float s = 0f, r = 0f;
                    for (long b = 0; b < ld; b++)
                    {
                        s = MathF.FusedMultiplyAdd(g[b] * xi[a * ld + b], xj[c * ld + b], s);
                        r = MathF.FusedMultiplyAdd(g[b] * xi[c * ld + b], xj[a * ld + b], r);
                    }
                    du[a * dim + c] += s + r;
                    if (c != a) du[c * dim + a] += r + s;
                }
        }

        private readonly void ForwardScalar(int b)
        {
            int n = Fields * Dim, dim = Dim, p = 0;
            float* x = X + (long)b * n;
            for (int i = 0; i < Fields - 1; i++)
                for (int j = i + 1; j < Fields; j++, p++)
                {
                    float* wp = W + (long)p * dim * dim;
                    float s = 0f;
                    for (int a = 0; a < dim; a++)
                    {
                        float t = 0f;
                        for (int c = 0; c < dim; c++) t = MathF.FusedMultiplyAdd(wp[a * dim + c], x[j * dim + c], t);
                        s = MathF.FusedMultiplyAdd(x[i * dim + a], t, s);
                    }
                    Y[(long)b * Pairs + p] = s;
                }
        }

        /// <summary>The scalar path's backward per sample: dx, and this sample's column of Xᵀ and dyᵀ.</summary>
        private readonly void InputsScalar(int b)
        {
            int n = Fields * Dim, dim = Dim, p = 0;
            float* x = X + (long)b * n, dy = DY + (long)b * Pairs;
            for (int k = 0; k < n; k++) XT[k * (long)Padded + b] = x[k];
            for (int q = 0; q < Pairs; q++) DYT[q * (long)Padded + b] = dy[q];
            if (DX == null) return;
            float* dx = DX + (long)b * n;
            for (int i = 0; i < Fields - 1; i++)
                for (int j = i + 1; j < Fields; j++, p++)
                {
                    float* wp = W + (long)p * dim * dim;
                    for (int a = 0; a < dim; a++)
                    {
                        float t = 0f, u = 0f;
                        for (int c = 0; c < dim; c++)
                        {
                            t = MathF.FusedMultiplyAdd(wp[a * dim + c], x[j * dim + c], t);
                            u = MathF.FusedMultiplyAdd(wp[a * dim + c], x[i * dim + c], u);
                        }
                        dx[i * dim + a] = MathF.FusedMultiplyAdd(dy[p], t, dx[i * dim + a]);
                        dx[j * dim + a] = MathF.FusedMultiplyAdd(dy[p], u, dx[j * dim + a]);
                    }
                }
        }
    }

    internal enum FefmPass { Forward, Inputs, Weights }

    public void Fefm(int batch, int fields, int dim, BufferView x, BufferView u, BufferView y)
    {
        if (fields < 2 || batch == 0) return;
        int pairs = fields * (fields - 1) / 2, w = Math.Max(1, FefmJob.Width);
        var wsym = FefmWeights(pairs, dim, F(u));
        fixed (float* pw = wsym, px = F(x), py = F(y))
        {
            var job = new FefmJob { Batch = batch, Fields = fields, Dim = dim, Pairs = pairs, W = pw, X = px, Y = py, Pass = FefmPass.Forward };
            WorkerPool.For((batch + w - 1) / w, ref job);
        }
    }

    public void FefmBackward(int batch, int fields, int dim, BufferView x, BufferView u, BufferView dy, BufferView dx, BufferView du)
    {
        if (fields < 2 || batch == 0 || (dx.IsEmpty && du.IsEmpty)) return;
        int pairs = fields * (fields - 1) / 2, w = Math.Max(1, FefmJob.Width), padded = (batch + w - 1) / w * w;
        var wsym = FefmWeights(pairs, dim, F(u));
        var xt = BatchChunks.Scratch(ref _fefmXT, (long)fields * dim * padded);
        var dyt = BatchChunks.Scratch(ref _fefmDYT, (long)pairs * padded);
        fixed (float* pw = wsym, px = F(x), pdy = F(dy), pdx = F(dx), pdu = F(du), pxt = xt, pdyt = dyt)
        {
            var job = new FefmJob
            {
                Batch = batch, Fields = fields, Dim = dim, Pairs = pairs, Padded = padded, W = pw, X = px, DY = pdy,
                DX = dx.IsEmpty ? null : pdx, DU = pdu, XT = pxt, DYT = pdyt, Pass = FefmPass.Inputs,
            };
            WorkerPool.For(padded / w, ref job);
            if (du.IsEmpty) return;
            job.Pass = FefmPass.Weights;
            WorkerPool.For(pairs, ref job);
        }
    }

    private float[]? _fefmW, _fefmXT, _fefmDYT;

    /// <summary>W_p = U_p + U_pᵀ for every pair, [pairs; dim; dim].</summary>
    private float[] FefmWeights(int pairs, int dim, Span<float> u)
    {
        var w = BatchChunks.Scratch(ref _fefmW, (long)pairs * dim * dim);
        for (int p = 0; p < pairs; p++)
        {
            var up = u.Slice(p * dim * dim, dim * dim);
            for (int a = 0; a < dim; a++)
                for (int c = 0; c < dim; c++) w[(p * dim + a) * dim + c] = up[a * dim + c] + up[c * dim + a];
        }
        return w;
    }
}
