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
    // t = W_p·x_j (k² FMAs, up to eight rows of W per pass over x_j), y = Σ_a x_i[a]·t[a]. Nothing of size
    // batch × pairs × k is written, and W (about 300 KB for 741 pairs) stays in the caches.
    // Backward, per block (the rows are the block's own, so any thread count gives the same bits):
    //   dx_i += dy ⊙ W_p·x_j and dx_j += dy ⊙ W_p·x_i (W symmetric), in pair order;
    // and per pair over the whole batch (the pairs are split over the pool; each sums its rows in one order):
    //   dW_p[a, c] = Σ_b dy[b, p]·x_i[b, a]·x_j[b, c], and dU_p += dW_p + dW_pᵀ.
    // The backward's first job also leaves Xᵀ and dyᵀ for the whole batch for the second: with vectors, block after
    // block ([fields·dim; w] and [pairs; w] each), as the first job transposed them; in the plain loops,
    // [fields·dim; batch] and [pairs; batch]. Without AVX2 and FMA, plain loops per sample.
    internal struct FefmJob : IParallelJob
    {
        public int Batch, Fields, Dim, Pairs, Padded;
        /// <summary>W [pairs; dim; dim], symmetric.</summary>
        public float* W;
        public float* X, Y, DY, DX, DU;
        /// <summary>Xᵀ and dyᵀ over the whole padded batch (backward only): block-major with vectors, row-major in
        /// the plain loops.</summary>
        public float* XT, DYT;
        public FefmPass Pass;
        /// <summary><see cref="Width"/> when the call began: the padding and every job of its passes agree on it even
        /// if a test changes the setting meanwhile.</summary>
        public int Lanes;

        /// <summary>Lanes of the vector path: 16, 8 or 0 (plain loops). Tests set it lower to check every path.</summary>
        internal static int Width = PairwiseInnerJob.Width;

        [ThreadStatic] private static float[]? t_scratch;

        /// <summary>Rows per tile of the weight gradient's pass over the batch (a multiple of 16).</summary>
        private const int FefmTile = 256;

        public readonly void Run(int index)
        {
            if (Lanes == 16) Run<Vector512<float>, Lanes512>(index);
            else if (Lanes == 8) Run<Vector256<float>, Lanes256>(index);
            else if (Pass == FefmPass.Forward) ForwardScalar(index);
            else if (Pass == FefmPass.Inputs) InputsScalar(index);
            else WeightsScalar(index);
        }

        private readonly void Run<TV, TL>(int index) where TV : struct where TL : struct, ILanes<TV>
        {
            if (Pass == FefmPass.Weights) { Weights<TV, TL>(index); return; }
            int w = TL.Count, start = index * w, rows = Math.Min(w, Batch - start), n = Fields * Dim;
            // Per block: Xᵀ (forward) or dXᵀ (backward), then the forward's y (transposed) and its t (dim vectors); the
            // backward keeps its block's Xᵀ and dyᵀ in the batch's copies.
            long size = (long)n * w + (long)Pairs * w + (long)Dim * w + 16;
            fixed (float* scratch = BatchChunks.Scratch(ref t_scratch, size))
            {
                float* local = (float*)(((nint)scratch + 63) & ~(nint)63), rowsT = local + (long)n * w, t = rowsT + (long)Pairs * w;
                if (Pass == FefmPass.Forward)
                {
                    Transpose(X + (long)start * n, n, rows, local, w, w);
                    ForwardBlock<TV, TL>(local, w, rowsT, t);
                    for (int l = 0; l < rows; l++)
                        for (int p = 0; p < Pairs; p++) Y[(long)(start + l) * Pairs + p] = rowsT[p * w + l];
                    return;
                }
                // Xᵀ and dyᵀ of this block, w floats a row, straight into the block's own stretch of the whole
                // batch's copies, which the weights pass reads; dXᵀ in local. Rows of the batch's copies a batch
                // apart (16 KiB at 4096) fell in one L1 set when the products read them (DeepFEFM's pass waited on
                // L2), and copying each block's rows there cost as much again: 2.7 of the pass's 9.3 ms (Zen 5, 2
                // threads).
                float* xl = XT + (long)index * n * w, dyl = DYT + (long)index * Pairs * w;
                Transpose(X + (long)start * n, n, rows, xl, w, w);
                Transpose(DY + (long)start * Pairs, Pairs, rows, dyl, w, w);
                if (DX == null) return;
                new Span<float>(local, n * w).Clear();
                InputsBlock<TV, TL>(xl, dyl, w, local);
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
        /// eight rows of W per pass over x, then four, two and one: at dim 10, one group of eight and one of two
        /// where groups of four, four, one and one left the FMA units waiting on four chains or fewer (DeepFEFM's
        /// forward on the Zen 5 EPYC, 2 threads, 3 alternating pairs: 5.09–5.54 → 4.37–4.51 ms).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Apply<TV, TL>(float* wp, int dim, float* x, long ld, float* t) where TV : struct where TL : struct, ILanes<TV>
        {
            int w = TL.Count, a = 0;
            for (; a + 8 <= dim; a += 8)
            {
                TV s0 = TL.Zero, s1 = TL.Zero, s2 = TL.Zero, s3 = TL.Zero, s4 = TL.Zero, s5 = TL.Zero, s6 = TL.Zero, s7 = TL.Zero;
                float* r = wp + a * dim;
                for (int c = 0; c < dim; c++, r++)
                {
                    var xc = TL.Load(x + c * ld);
                    s0 = TL.Fma(TL.Broadcast(r[0]), xc, s0);
                    s1 = TL.Fma(TL.Broadcast(r[dim]), xc, s1);
                    s2 = TL.Fma(TL.Broadcast(r[2 * dim]), xc, s2);
                    s3 = TL.Fma(TL.Broadcast(r[3 * dim]), xc, s3);
                    s4 = TL.Fma(TL.Broadcast(r[4 * dim]), xc, s4);
                    s5 = TL.Fma(TL.Broadcast(r[5 * dim]), xc, s5);
                    s6 = TL.Fma(TL.Broadcast(r[6 * dim]), xc, s6);
                    s7 = TL.Fma(TL.Broadcast(r[7 * dim]), xc, s7);
                }
                TL.Store(s0, t + a * w); TL.Store(s1, t + (a + 1) * w); TL.Store(s2, t + (a + 2) * w); TL.Store(s3, t + (a + 3) * w);
                TL.Store(s4, t + (a + 4) * w); TL.Store(s5, t + (a + 5) * w); TL.Store(s6, t + (a + 6) * w); TL.Store(s7, t + (a + 7) * w);
            }
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
            for (; a + 2 <= dim; a += 2)
            {
                TV s0 = TL.Zero, s1 = TL.Zero;
                float* r = wp + a * dim;
                for (int c = 0; c < dim; c++, r++)
                {
                    var xc = TL.Load(x + c * ld);
                    s0 = TL.Fma(TL.Broadcast(r[0]), xc, s0);
                    s1 = TL.Fma(TL.Broadcast(r[dim]), xc, s1);
                }
                TL.Store(s0, t + a * w); TL.Store(s1, t + (a + 1) * w);
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
        /// <remarks>The two products share every broadcast of W's elements: rows of W in groups of eight (then four,
        /// then one), both products' sums for the group in registers over c, then added into dXᵀ. Each sum is the
        /// same chain over c as <see cref="Apply{TV, TL}"/>'s and each dXᵀ element gets the same FMA in pair order,
        /// so the bits are those of two Apply passes, which loaded x and W five times per four FMAs and waited on
        /// four chains.</remarks>
        private readonly void InputsBlock<TV, TL>(float* xt, float* dyt, long ld, float* dxt) where TV : struct where TL : struct, ILanes<TV>
        {
            int w = TL.Count, dim = Dim, p = 0;
            for (int i = 0; i < Fields - 1; i++)
                for (int j = i + 1; j < Fields; j++, p++)
                {
                    float* wp = W + (long)p * dim * dim, xi = xt + i * dim * ld, xj = xt + j * dim * ld;
                    float* di = dxt + i * dim * w, dj = dxt + j * dim * w;
                    var g = TL.Load(dyt + p * ld);
                    int a = 0;
                    for (; a + 8 <= dim; a += 8) BothRows8<TV, TL>(wp + a * dim, dim, xi, xj, ld, g, di + a * w, dj + a * w);
                    for (; a + 4 <= dim; a += 4) BothRows4<TV, TL>(wp + a * dim, dim, xi, xj, ld, g, di + a * w, dj + a * w);
                    for (; a < dim; a++)
                    {
                        TV t = TL.Zero, u = TL.Zero;
                        float* r = wp + a * dim;
                        for (int c = 0; c < dim; c++)
                        {
                            var wc = TL.Broadcast(r[c]);
                            t = TL.Fma(wc, TL.Load(xj + c * ld), t);
                            u = TL.Fma(wc, TL.Load(xi + c * ld), u);
                        }
                        TL.Store(TL.Fma(g, t, TL.Load(di + a * w)), di + a * w);
                        TL.Store(TL.Fma(g, u, TL.Load(dj + a * w)), dj + a * w);
                    }
                }
        }

        /// <summary>Rows a…a+7 of W_p (from <paramref name="r"/>) against x_j and x_i: di[a] += g·(W x_j)[a] and
        /// dj[a] += g·(W x_i)[a] (di, dj at their row a, w floats apart).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void BothRows8<TV, TL>(float* r, int dim, float* xi, float* xj, long ld, TV g, float* di, float* dj)
            where TV : struct where TL : struct, ILanes<TV>
        {
            int w = TL.Count;
            TV t0 = TL.Zero, t1 = TL.Zero, t2 = TL.Zero, t3 = TL.Zero, t4 = TL.Zero, t5 = TL.Zero, t6 = TL.Zero, t7 = TL.Zero;
            TV u0 = TL.Zero, u1 = TL.Zero, u2 = TL.Zero, u3 = TL.Zero, u4 = TL.Zero, u5 = TL.Zero, u6 = TL.Zero, u7 = TL.Zero;
            for (int c = 0; c < dim; c++, r++)
            {
                var vj = TL.Load(xj + c * ld);
                var vi = TL.Load(xi + c * ld);
                var w0 = TL.Broadcast(r[0]);
                t0 = TL.Fma(w0, vj, t0); u0 = TL.Fma(w0, vi, u0);
                var w1 = TL.Broadcast(r[dim]);
                t1 = TL.Fma(w1, vj, t1); u1 = TL.Fma(w1, vi, u1);
                var w2 = TL.Broadcast(r[2 * dim]);
                t2 = TL.Fma(w2, vj, t2); u2 = TL.Fma(w2, vi, u2);
                var w3 = TL.Broadcast(r[3 * dim]);
                t3 = TL.Fma(w3, vj, t3); u3 = TL.Fma(w3, vi, u3);
                var w4 = TL.Broadcast(r[4 * dim]);
                t4 = TL.Fma(w4, vj, t4); u4 = TL.Fma(w4, vi, u4);
                var w5 = TL.Broadcast(r[5 * dim]);
                t5 = TL.Fma(w5, vj, t5); u5 = TL.Fma(w5, vi, u5);
                var w6 = TL.Broadcast(r[6 * dim]);
                t6 = TL.Fma(w6, vj, t6); u6 = TL.Fma(w6, vi, u6);
                var w7 = TL.Broadcast(r[7 * dim]);
                t7 = TL.Fma(w7, vj, t7); u7 = TL.Fma(w7, vi, u7);
            }
            Add(g, t0, di); Add(g, u0, dj);
            Add(g, t1, di + w); Add(g, u1, dj + w);
            Add(g, t2, di + 2 * w); Add(g, u2, dj + 2 * w);
            Add(g, t3, di + 3 * w); Add(g, u3, dj + 3 * w);
            Add(g, t4, di + 4 * w); Add(g, u4, dj + 4 * w);
            Add(g, t5, di + 5 * w); Add(g, u5, dj + 5 * w);
            Add(g, t6, di + 6 * w); Add(g, u6, dj + 6 * w);
            Add(g, t7, di + 7 * w); Add(g, u7, dj + 7 * w);

            static void Add(TV g, TV v, float* d) => TL.Store(TL.Fma(g, v, TL.Load(d)), d);
        }

        /// <summary><see cref="BothRows8{TV, TL}"/> for four rows.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void BothRows4<TV, TL>(float* r, int dim, float* xi, float* xj, long ld, TV g, float* di, float* dj)
            where TV : struct where TL : struct, ILanes<TV>
        {
            int w = TL.Count;
            TV t0 = TL.Zero, t1 = TL.Zero, t2 = TL.Zero, t3 = TL.Zero, u0 = TL.Zero, u1 = TL.Zero, u2 = TL.Zero, u3 = TL.Zero;
            for (int c = 0; c < dim; c++, r++)
            {
                var vj = TL.Load(xj + c * ld);
                var vi = TL.Load(xi + c * ld);
                var w0 = TL.Broadcast(r[0]);
                t0 = TL.Fma(w0, vj, t0); u0 = TL.Fma(w0, vi, u0);
                var w1 = TL.Broadcast(r[dim]);
                t1 = TL.Fma(w1, vj, t1); u1 = TL.Fma(w1, vi, u1);
                var w2 = TL.Broadcast(r[2 * dim]);
                t2 = TL.Fma(w2, vj, t2); u2 = TL.Fma(w2, vi, u2);
                var w3 = TL.Broadcast(r[3 * dim]);
                t3 = TL.Fma(w3, vj, t3); u3 = TL.Fma(w3, vi, u3);
            }
            TL.Store(TL.Fma(g, t0, TL.Load(di)), di); TL.Store(TL.Fma(g, u0, TL.Load(dj)), dj);
            TL.Store(TL.Fma(g, t1, TL.Load(di + w)), di + w); TL.Store(TL.Fma(g, u1, TL.Load(dj + w)), dj + w);
            TL.Store(TL.Fma(g, t2, TL.Load(di + 2 * w)), di + 2 * w); TL.Store(TL.Fma(g, u2, TL.Load(dj + 2 * w)), dj + 2 * w);
            TL.Store(TL.Fma(g, t3, TL.Load(di + 3 * w)), di + 3 * w); TL.Store(TL.Fma(g, u3, TL.Load(dj + 3 * w)), dj + 3 * w);
        }

        /// <summary>Pair <paramref name="p"/>'s dW over the whole batch (lane sums over the blocks, then across the
        /// lanes in order), added into dU_p as dW + dWᵀ.</summary>
        private readonly void Weights<TV, TL>(int p) where TV : struct where TL : struct, ILanes<TV>
        {
            int w = TL.Count, dim = Dim, i = 0, first = 0;
            while (first + Fields - 1 - i <= p) { first += Fields - 1 - i; i++; }
            int j = i + 1 + p - first;
            long ld = Padded, xBlock = (long)Fields * dim * w, dyBlock = (long)Pairs * w;
            float* xi = XT + (long)i * dim * w, xj = XT + (long)j * dim * w, g = DYT + p * w;
            // Over tiles of the batch, so that the pair's 2·dim rows of Xᵀ are read from memory once: per tile, from
            // the blocks' copies, h_a = dy ⊙ x_i[a] and x_j[a] for every a (FefmTile floats each, rows of the tile), then
            // for two rows a at a time and c in groups of eight (then four, then one), lane sums in registers added
            // into acc [dim; dim; w]. Each sum is the same chain over the batch as when h was recomputed per group of
            // four c (six loads per five FMAs, one row a at a time); an odd dim's last row pairs with itself and
            // writes its twin into a spare row.
            int tile = FefmTile, size = dim * dim * w + dim * w + 2 * dim * tile + dim * dim;
            fixed (float* scratch = BatchChunks.Scratch(ref t_scratch, size + 16))
            {
                float* acc = (float*)(((nint)scratch + 63) & ~(nint)63), spare = acc + dim * dim * w;
                float* h = spare + dim * w, xt = h + dim * tile, dw = xt + dim * tile;
                new Span<float>(acc, dim * dim * w + dim * w).Clear();
                for (long b0 = 0; b0 < ld; b0 += tile)
                {
                    int len = (int)Math.Min(tile, ld - b0);
                    for (int b = 0; b < len; b += w)
                    {
                        long block = (b0 + b) / w;
                        float* xib = xi + block * xBlock, xjb = xj + block * xBlock;
                        var gb = TL.Load(g + block * dyBlock);
                        for (int a = 0; a < dim; a++)
                        {
                            TL.Store(TL.Fma(gb, TL.Load(xib + a * w), TL.Zero), h + a * tile + b);
                            TL.Store(TL.Load(xjb + a * w), xt + a * tile + b);
                        }
                    }
                    for (int a = 0; a < dim; a += 2)
                    {
                        bool twin = a + 1 < dim;
                        float* h0 = h + a * tile, h1 = twin ? h0 + tile : h0;
                        float* acc0 = acc + a * dim * w, acc1 = twin ? acc0 + dim * w : spare;
                        int c = 0;
                        for (; c + 8 <= dim; c += 8) Rank8<TV, TL>(h0, h1, len, xt + c * tile, tile, acc0 + c * w, acc1 + c * w);
                        for (; c + 4 <= dim; c += 4) Rank4<TV, TL>(h0, h1, len, xt + c * tile, tile, acc0 + c * w, acc1 + c * w);
                        for (; c < dim; c++)
                        {
                            TV s0 = TL.Load(acc0 + c * w), s1 = TL.Load(acc1 + c * w);
                            float* x = xt + c * tile;
                            for (int b = 0; b < len; b += w)
                            {
                                var v = TL.Load(x + b);
                                s0 = TL.Fma(TL.Load(h0 + b), v, s0);
                                s1 = TL.Fma(TL.Load(h1 + b), v, s1);
                            }
                            TL.Store(s0, acc0 + c * w);
                            TL.Store(s1, acc1 + c * w);
                        }
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

        /// <summary>acc0[c] += Σ_b h0[b]·x_c[b] and acc1[c] += Σ_b h1[b]·x_c[b] over <paramref name="len"/> rows, for
        /// eight c (x_c at <paramref name="x"/> + c·ld, acc's c at c·w).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Rank8<TV, TL>(float* h0, float* h1, int len, float* x, long ld, float* acc0, float* acc1)
            where TV : struct where TL : struct, ILanes<TV>
        {
            int w = TL.Count;
            TV s0 = TL.Load(acc0), s1 = TL.Load(acc0 + w), s2 = TL.Load(acc0 + 2 * w), s3 = TL.Load(acc0 + 3 * w);
            TV s4 = TL.Load(acc0 + 4 * w), s5 = TL.Load(acc0 + 5 * w), s6 = TL.Load(acc0 + 6 * w), s7 = TL.Load(acc0 + 7 * w);
            TV r0 = TL.Load(acc1), r1 = TL.Load(acc1 + w), r2 = TL.Load(acc1 + 2 * w), r3 = TL.Load(acc1 + 3 * w);
            TV r4 = TL.Load(acc1 + 4 * w), r5 = TL.Load(acc1 + 5 * w), r6 = TL.Load(acc1 + 6 * w), r7 = TL.Load(acc1 + 7 * w);
            for (int b = 0; b < len; b += w)
            {
                var v0 = TL.Load(h0 + b);
                var v1 = TL.Load(h1 + b);
                var x0 = TL.Load(x + b);
                s0 = TL.Fma(v0, x0, s0); r0 = TL.Fma(v1, x0, r0);
                var x1 = TL.Load(x + ld + b);
                s1 = TL.Fma(v0, x1, s1); r1 = TL.Fma(v1, x1, r1);
                var x2 = TL.Load(x + 2 * ld + b);
                s2 = TL.Fma(v0, x2, s2); r2 = TL.Fma(v1, x2, r2);
                var x3 = TL.Load(x + 3 * ld + b);
                s3 = TL.Fma(v0, x3, s3); r3 = TL.Fma(v1, x3, r3);
                var x4 = TL.Load(x + 4 * ld + b);
                s4 = TL.Fma(v0, x4, s4); r4 = TL.Fma(v1, x4, r4);
                var x5 = TL.Load(x + 5 * ld + b);
                s5 = TL.Fma(v0, x5, s5); r5 = TL.Fma(v1, x5, r5);
                var x6 = TL.Load(x + 6 * ld + b);
                s6 = TL.Fma(v0, x6, s6); r6 = TL.Fma(v1, x6, r6);
                var x7 = TL.Load(x + 7 * ld + b);
                s7 = TL.Fma(v0, x7, s7); r7 = TL.Fma(v1, x7, r7);
            }
            TL.Store(s0, acc0); TL.Store(s1, acc0 + w); TL.Store(s2, acc0 + 2 * w); TL.Store(s3, acc0 + 3 * w);
            TL.Store(s4, acc0 + 4 * w); TL.Store(s5, acc0 + 5 * w); TL.Store(s6, acc0 + 6 * w); TL.Store(s7, acc0 + 7 * w);
            TL.Store(r0, acc1); TL.Store(r1, acc1 + w); TL.Store(r2, acc1 + 2 * w); TL.Store(r3, acc1 + 3 * w);
            TL.Store(r4, acc1 + 4 * w); TL.Store(r5, acc1 + 5 * w); TL.Store(r6, acc1 + 6 * w); TL.Store(r7, acc1 + 7 * w);
        }

        /// <summary><see cref="Rank8{TV, TL}"/> for four c.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Rank4<TV, TL>(float* h0, float* h1, int len, float* x, long ld, float* acc0, float* acc1)
            where TV : struct where TL : struct, ILanes<TV>
        {
            int w = TL.Count;
            TV s0 = TL.Load(acc0), s1 = TL.Load(acc0 + w), s2 = TL.Load(acc0 + 2 * w), s3 = TL.Load(acc0 + 3 * w);
            TV r0 = TL.Load(acc1), r1 = TL.Load(acc1 + w), r2 = TL.Load(acc1 + 2 * w), r3 = TL.Load(acc1 + 3 * w);
            for (int b = 0; b < len; b += w)
            {
                var v0 = TL.Load(h0 + b);
                var v1 = TL.Load(h1 + b);
                var x0 = TL.Load(x + b);
                s0 = TL.Fma(v0, x0, s0); r0 = TL.Fma(v1, x0, r0);
                var x1 = TL.Load(x + ld + b);
                s1 = TL.Fma(v0, x1, s1); r1 = TL.Fma(v1, x1, r1);
                var x2 = TL.Load(x + 2 * ld + b);
                s2 = TL.Fma(v0, x2, s2); r2 = TL.Fma(v1, x2, r2);
                var x3 = TL.Load(x + 3 * ld + b);
                s3 = TL.Fma(v0, x3, s3); r3 = TL.Fma(v1, x3, r3);
            }
            TL.Store(s0, acc0); TL.Store(s1, acc0 + w); TL.Store(s2, acc0 + 2 * w); TL.Store(s3, acc0 + 3 * w);
            TL.Store(r0, acc1); TL.Store(r1, acc1 + w); TL.Store(r2, acc1 + 2 * w); TL.Store(r3, acc1 + 3 * w);
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
        int pairs = fields * (fields - 1) / 2, lanes = FefmJob.Width, w = Math.Max(1, lanes);
        var wsym = FefmWeights(pairs, dim, F(u));
        fixed (float* pw = wsym, px = F(x), py = F(y))
        {
            var job = new FefmJob { Batch = batch, Fields = fields, Dim = dim, Pairs = pairs, W = pw, X = px, Y = py, Pass = FefmPass.Forward, Lanes = lanes };
            WorkerPool.For((batch + w - 1) / w, ref job);
        }
    }

    public void FefmBackward(int batch, int fields, int dim, BufferView x, BufferView u, BufferView dy, BufferView dx, BufferView du)
    {
        if (fields < 2 || batch == 0 || (dx.IsEmpty && du.IsEmpty)) return;
        int pairs = fields * (fields - 1) / 2, lanes = FefmJob.Width, w = Math.Max(1, lanes), padded = (batch + w - 1) / w * w;
        var wsym = FefmWeights(pairs, dim, F(u));
        // Xᵀ and dyᵀ in one scratch, from a 64-byte boundary: every row starts on a cache line (padded is a multiple
        // of 16), so the weights pass's vector loads never split across two.
        long nxt = (long)fields * dim * padded;
        var scratch = BatchChunks.Scratch(ref _fefmT, nxt + (long)pairs * padded + 16);
        fixed (float* pw = wsym, px = F(x), pdy = F(dy), pdx = F(dx), pdu = F(du), ps = scratch)
        {
            float* pxt = (float*)(((nint)ps + 63) & ~(nint)63), pdyt = pxt + nxt;
            var job = new FefmJob
            {
                Batch = batch, Fields = fields, Dim = dim, Pairs = pairs, Padded = padded, W = pw, X = px, DY = pdy,
                DX = dx.IsEmpty ? null : pdx, DU = pdu, XT = pxt, DYT = pdyt, Pass = FefmPass.Inputs, Lanes = lanes,
            };
            WorkerPool.For(padded / w, ref job);
            if (du.IsEmpty) return;
            job.Pass = FefmPass.Weights;
            WorkerPool.For(pairs, ref job);
        }
    }

    private float[]? _fefmW, _fefmT;

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
