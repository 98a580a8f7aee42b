using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using CtrDsl.Backends;

namespace CtrDsl.Cpu;

// The interactions family's pairwise inner products (the DSL's inner_product, IPNN's product layer): a tuned kernel
// in a file of its own, since it outgrew CpuBackend.Interactions.cs.
public sealed unsafe partial class CpuBackend
{
    // Pairwise inner products, one sample per pool index, with the sample's embeddings transposed to Eᵀ [dim; ld]
    // (x_i[a] = Eᵀ[a, i], by gathers; rows padded with zeros to ld, a whole number of vectors, and aligned). For a first
    // field i the later fields i+1 … F−1 are a contiguous run of every row of Eᵀ and their pairs (i, i+1) … (i, F−1) a
    // contiguous run of y, so both are walked in aligned blocks of 16 columns of Eᵀ (8 with AVX2 only), two rows i,
    // i+1 at a time. A row's first and last blocks reach columns ≤ i or ≥ F: only the row's lanes are stored to y or
    // read from dy (masked stores and loads, which touch nothing else).
    // Forward: per group of four blocks, the eight sums x_i·Eᵀ[·, block] and x_{i+1}·Eᵀ[·, block] stay in registers
    // over a (each load of Eᵀ feeds two FMAs, eight chains hide the FMA latency), then one store per block; the last
    // group may run past the row into Eᵀ's slack, and those blocks are not stored. An output of 64 MiB or more is
    // written to a staging copy and streamed into y by non-temporal stores. Backward: the two rows' dy runs are copied
    // to scratch aligned with Eᵀ's columns, zero outside the rows' pairs; then per a, over the blocks, s_i += dy(i, ·) ⊙
    // Eᵀ[a, ·] (and s_{i+1}, in registers) and dEᵀ[a, ·] += dy(i, ·)·x_i[a] + dy(i+1, ·)·x_{i+1}[a] (one load and store
    // of the transposed gradient for both rows). The zero lanes add exact zeros only when x is finite: a sample with
    // an infinity or NaN takes the scalar loops. dx_i[a] is the lane sum of s_i: the row sums queue in a window of
    // vectors in dx's order and every 16 are summed across lanes at once (a shuffle tree) and added into dx; dEᵀ is
    // added into dx at the end. Each element's sums run in one fixed order per sample, so the bits do not depend on
    // the thread count. Without AVX2 and FMA, plain loops over the pairs.
    internal struct PairwiseInnerJob : IParallelJob
    {
        public int Fields, Dim, Pairs;
        public float* X, Y, DY, DX;
        /// <summary>For the backward pass with AVX2: where dx's element k is in dEᵀ (<see cref="Transposed"/>).</summary>
        public int* Index;
        public bool Backward;
        /// <summary>Forward pass: y is written through a per-sample staging copy by non-temporal stores.</summary>
        public bool Stream;

        /// <summary>Outputs of at least this many floats are streamed (64 MiB: written past the caches anyway, so
        /// not read line by line first). Tests lower it.</summary>
        internal static long StreamFloats = 1 << 24;

        [ThreadStatic] private static float[]? t_scratch, t_index;

        /// <summary>Lanes of the vector path this machine takes: 16, 8, or 0 for the scalar loops.</summary>
        public static int Width => Avx512F.IsSupported && Vector512.IsHardwareAccelerated ? 16
            : Avx2.IsSupported && Fma.IsSupported && Vector256.IsHardwareAccelerated ? 8 : 0;

        /// <summary>Index[k] = (k % dim)·ld + k / dim for k &lt; fields·dim, in the calling thread's scratch (ints in
        /// a float array), or null on the scalar path.</summary>
        public static float[]? Transposed(int fields, int dim)
        {
            int w = Width;
            if (w == 0) return null;
            int ld = (fields + w - 1) & -w, n = fields * dim;
            var table = BatchChunks.Scratch(ref t_index, n);
            var index = MemoryMarshal.Cast<float, int>(table.AsSpan(0, n));
            for (int f = 0, k = 0; f < fields; f++)
                for (int a = 0; a < dim; a++, k++) index[k] = a * ld + f;
            return table;
        }

        public readonly void Run(int b)
        {
            int fields = Fields, dim = Dim;
            if (fields < 2) return;
            if (Width == 16) Sample<Vector512<float>, Lanes512>(b);
            else if (Width == 8) Sample<Vector256<float>, Lanes256>(b);
            else
            {
                float* e = X + (long)b * fields * dim;
                if (Backward) BackwardScalar(fields, dim, e, DY + (long)b * Pairs, DX + (long)b * fields * dim);
                else ForwardScalar(fields, dim, e, Y + (long)b * Pairs);
            }
        }

        private readonly void Sample<TV, TL>(int b) where TV : struct where TL : struct, ILanes<TV>
        {
            int fields = Fields, dim = Dim, w = TL.Count, ld = (fields + w - 1) & -w;
            float* e = X + (long)b * fields * dim;
            if (Backward && !Finite(e, fields * dim))
            {
                // The fast path's masked lanes multiply zeros by other fields' values: exact only for finite ones.
                BackwardScalar(fields, dim, e, DY + (long)b * Pairs, DX + (long)b * fields * dim);
                return;
            }
            // Scratch: Eᵀ (with three blocks of slack, read past by the forward pass's last group), then for the
            // backward pass dEᵀ, the two rows' dy and the window of row sums (fewer than w pending vectors, then two
            // rows' worth, and room for the last group).
            int capacity = 64 + 2 * dim;
            long plane = (long)ld * dim, size = plane + 4 * w + 16 + (Backward ? plane + 2 * ld + (capacity + 16L) * w : Stream ? Pairs + 32 : 0);
            fixed (float* scratch = BatchChunks.Scratch(ref t_scratch, size))
            {
                float* et = (float*)(((nint)scratch + 63) & ~(nint)63);
                Transpose(e, et, fields, dim, ld);
                if (!Backward)
                {
                    float* y = Y + (long)b * Pairs;
                    if (!Stream)
                    {
                        ForwardRows<TV, TL>(fields, dim, ld, e, et, y);
                        return;
                    }
                    // Staged at y's offset within a cache line, then streamed into y.
                    float* stage = (float*)(((nint)(et + plane + 4 * w) + 63) & ~(nint)63) + ((nint)y & 63) / sizeof(float);
                    ForwardRows<TV, TL>(fields, dim, ld, e, et, stage);
                    StreamCopy<TV, TL>(stage, y, Pairs);
                    return;
                }
                float* det = et + plane + 4 * w, rows = det + plane, window = rows + 2 * ld, dx = DX + (long)b * fields * dim;
                new Span<float>(det, (int)plane).Clear();
                BackwardRows<TV, TL>(fields, dim, ld, e, et, DY + (long)b * Pairs, det, rows, window, capacity, dx);
                AddTransposed(det, dx, Index, fields * dim);
            }
        }

        /// <summary>dst[k] = src[k] for k &lt; n, src at dst's offset within a cache line: the whole lines of dst by
        /// non-temporal stores (no read of the lines first, and no room taken in the caches), its ends by plain ones.</summary>
        private static void StreamCopy<TV, TL>(float* src, float* dst, int n) where TV : struct where TL : struct, ILanes<TV>
        {
            int w = TL.Count, k = Math.Min(n, (int)((64 - ((nint)dst & 63)) & 63) / sizeof(float));
            for (int q = 0; q < k; q++) dst[q] = src[q];
            for (; k + 16 <= n; k += 16)
                for (int q = 0; q < 16; q += w) TL.StoreNonTemporal(TL.LoadAligned(src + k + q), dst + k + q);
            for (; k < n; k++) dst[k] = src[k];
            Sse.StoreFence();
        }

        /// <summary>Whether none of the n values at e is infinite or NaN.</summary>
        private static bool Finite(float* e, int n)
        {
            // x·0 is 0 for a finite x and NaN otherwise, and a NaN stays in a sum.
            var z = Vector256<float>.Zero;
            Vector256<float> s0 = z, s1 = z, s2 = z, s3 = z;
            int k = 0;
            for (; k + 32 <= n; k += 32)
            {
                s0 += Vector256.Load(e + k) * z; s1 += Vector256.Load(e + k + 8) * z;
                s2 += Vector256.Load(e + k + 16) * z; s3 += Vector256.Load(e + k + 24) * z;
            }
            for (; k + 8 <= n; k += 8) s0 += Vector256.Load(e + k) * z;
            float rest = 0f;
            for (; k < n; k++) rest += e[k] * 0f;
            return Vector256.EqualsAll(s0 + s1 + s2 + s3, z) && rest == 0f;
        }

        /// <summary>et[a·ld + f] = e[f·dim + a], eight fields at a time by gathers (the last ones masked, so nothing
        /// past the sample is read); the padding columns are zero.</summary>
        private static void Transpose(float* e, float* et, int fields, int dim, int ld)
        {
            var step = Vector256<int>.Indices * dim;
            int f = 0;
            for (; f + 8 <= fields; f += 8)
            {
                var index = step + Vector256.Create(f * dim);
                float* dst = et + f;
                for (int a = 0; a < dim; a++, dst += ld) Avx2.GatherVector256(e + a, index, 4).Store(dst);
            }
            if (f < fields)
            {
                var index = step + Vector256.Create(f * dim);
                var keep = Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(fields - f)).AsSingle();
                float* dst = et + f;
                for (int a = 0; a < dim; a++, dst += ld)
                    Avx2.GatherMaskVector256(Vector256<float>.Zero, e + a, index, keep, 4).Store(dst);
                f += 8;
            }
            for (; f < ld; f += 8)
                for (int a = 0; a < dim; a++) Vector256<float>.Zero.Store(et + a * ld + f);
        }

        /// <summary>dx[k] += det[index[k]] for k &lt; n: dx in order, its elements gathered from dEᵀ 8 at a time.</summary>
        private static void AddTransposed(float* det, float* dx, int* index, int n)
        {
            int k = 0;
            for (; k + 8 <= n; k += 8) (Vector256.Load(dx + k) + Avx2.GatherVector256(det, Vector256.Load(index + k), 4)).Store(dx + k);
            for (; k < n; k++) dx[k] += det[index[k]];
        }

        // Rows i and i+1 together, four blocks at a time: eight sums in registers over a, one load of Eᵀ for two FMAs.
        // The last group of a row pair may reach past its last block (into Eᵀ's slack): those blocks are not stored.
        private static void ForwardRows<TV, TL>(int fields, int dim, int ld, float* e, float* et, float* y)
            where TV : struct where TL : struct, ILanes<TV>
        {
            int w = TL.Count;
            for (int i = 0, p = 0; i < fields - 1; i += 2)
            {
                // When i+1 is the last field it has no pairs, and nothing of it is stored.
                int first = i + 1, p1 = p + fields - 1 - i;
                float* x0 = e + i * dim, x1 = x0 + dim, y0 = y + p - first, y1 = y + p1 - first - 1; // y(i, j) = y0[j]
                for (int c = first & -w; c < fields; c += 4 * w)
                {
                    var a0 = TL.Zero; var a1 = a0; var a2 = a0; var a3 = a0; var b0 = a0; var b1 = a0; var b2 = a0; var b3 = a0;
                    float* r = et + c;
                    for (int a = 0; a < dim; a++, r += ld)
                    {
                        var u = TL.Broadcast(x0[a]);
                        var v = TL.Broadcast(x1[a]);
                        var r0 = TL.LoadAligned(r); var r1 = TL.LoadAligned(r + w);
                        var r2 = TL.LoadAligned(r + 2 * w); var r3 = TL.LoadAligned(r + 3 * w);
                        a0 = TL.Fma(u, r0, a0); a1 = TL.Fma(u, r1, a1); a2 = TL.Fma(u, r2, a2); a3 = TL.Fma(u, r3, a3);
                        b0 = TL.Fma(v, r0, b0); b1 = TL.Fma(v, r1, b1); b2 = TL.Fma(v, r2, b2); b3 = TL.Fma(v, r3, b3);
                    }
                    Put<TV, TL>(a0, b0, y0, y1, c, first, fields);
                    if (c + w < fields) Put<TV, TL>(a1, b1, y0, y1, c + w, first, fields);
                    if (c + 2 * w < fields) Put<TV, TL>(a2, b2, y0, y1, c + 2 * w, first, fields);
                    if (c + 3 * w < fields) Put<TV, TL>(a3, b3, y0, y1, c + 3 * w, first, fields);
                }
                p = p1 + fields - 2 - i;
            }
        }

        /// <summary>Stores the block at column c of rows i and i+1, whose pairs are columns [first, fields) and
        /// [first + 1, fields).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Put<TV, TL>(TV u, TV v, float* y0, float* y1, int c, int first, int fields)
            where TV : struct where TL : struct, ILanes<TV>
        {
            if (c > first && c + TL.Count <= fields)
            {
                TL.Store(u, y0 + c);
                TL.Store(v, y1 + c);
            }
            else
            {
                TL.MaskStore(u, y0 + c, TL.Mask(c, first, fields));
                TL.MaskStore(v, y1 + c, TL.Mask(c, first + 1, fields));
            }
        }

        // Rows i and i+1 together. Their dy runs are first copied to `rows`, aligned with Eᵀ's columns and zero outside
        // the rows' pairs (masked loads), so every block is plain: with finite x the zero lanes add zeros.
        private static void BackwardRows<TV, TL>(int fields, int dim, int ld, float* e, float* et, float* dy, float* det,
            float* rows, float* window, int capacity, float* dx) where TV : struct where TL : struct, ILanes<TV>
        {
            int w = TL.Count, n = (fields - 1) * dim, last = (fields - 1) & -w;
            int start = 0, done = 0; // window[start] is the vector of dx element `done` (= i·dim + a), the first not yet added
            float* h0 = rows, h1 = rows + ld;
            for (int i = 0, p = 0; i < fields - 1; i += 2)
            {
                int at = start + i * dim - done;
                if (at + 2 * dim > capacity)
                {
                    new ReadOnlySpan<float>(window + start * w, (at - start) * w).CopyTo(new Span<float>(window, (at - start) * w));
                    at -= start;
                    start = 0;
                }
                // Rows i and i+1; when i+1 is the last field it has no pairs, and all its lanes are zero.
                int first = i + 1, c0 = first & -w, p1 = p + fields - 1 - i;
                float* g0 = dy + p - first, g1 = dy + p1 - first - 1; // dy(i, j) = g0[j], dy(i+1, j) = g1[j]
                for (int c = c0; c <= last; c += w)
                {
                    bool inner = c > first && c + w <= fields;
                    TL.StoreAligned(inner ? TL.Load(g0 + c) : TL.MaskLoad(g0 + c, TL.Mask(c, first, fields)), h0 + c);
                    TL.StoreAligned(inner ? TL.Load(g1 + c) : TL.MaskLoad(g1 + c, TL.Mask(c, first + 1, fields)), h1 + c);
                }
                float* x0 = e + i * dim, x1 = x0 + dim, sums = window + at * w;
                // The next two rows' dy, from memory while these rows' arithmetic runs.
                for (long q = p1 + fields - 2 - i, qe = Math.Min(q + 2L * (fields - 3 - i), (long)fields * (fields - 1) / 2); q < qe; q += 16)
                    Sse.Prefetch0(dy + q);
                float* r = et, d = det, s = sums;
                for (int a = 0; a < dim; a++, r += ld, d += ld, s += w)
                {
                    var u = TL.Broadcast(x0[a]); var v = TL.Broadcast(x1[a]);
                    var s0 = TL.Zero; var s1 = s0;
                    for (int c = c0; c <= last; c += w)
                    {
                        var q0 = TL.LoadAligned(h0 + c); var q1 = TL.LoadAligned(h1 + c); var ev = TL.LoadAligned(r + c);
                        s0 = TL.Fma(q0, ev, s0);
                        s1 = TL.Fma(q1, ev, s1);
                        TL.StoreAligned(TL.Fma(q1, v, TL.Fma(q0, u, TL.LoadAligned(d + c))), d + c);
                    }
                    TL.StoreAligned(s0, s);
                    TL.StoreAligned(s1, s + dim * w);
                }
                p = p1 + fields - 2 - i;
                for (int end = Math.Min((i + 2) * dim, n); end - done >= w; done += w, start += w)
                    TL.Store(TL.Add(TL.Load(dx + done), TL.Sums(window + start * w)), dx + done);
            }
            int rest = n - done;
            if (rest > 0)
            {
                new Span<float>(window + (start + rest) * w, (w - rest) * w).Clear();
                var keep = TL.Mask(0, 0, rest);
                TL.MaskStore(TL.Add(TL.MaskLoad(dx + done, keep), TL.Sums(window + start * w)), dx + done, keep);
            }
        }

        private static void ForwardScalar(int fields, int dim, float* e, float* y)
        {
            for (int i = 0, p = 0; i < fields - 1; i++)
                for (int j = i + 1; j < fields; j++, p++)
                {
                    float sum = 0f;
                    for (int a = 0; a < dim; a++) sum += e[i * dim + a] * e[j * dim + a];
                    y[p] = sum;
                }
        }

        private static void BackwardScalar(int fields, int dim, float* e, float* dy, float* dx)
        {
            for (int i = 0, p = 0; i < fields - 1; i++)
                for (int j = i + 1; j < fields; j++, p++)
                {
                    float g = dy[p];
                    for (int a = 0; a < dim; a++)
                    {
                        dx[i * dim + a] += g * e[j * dim + a];
                        dx[j * dim + a] += g * e[i * dim + a];
                    }
                }
        }
    }

    public void PairwiseInner(int batch, int fields, int dim, BufferView x, BufferView y)
    {
        fixed (float* px = F(x), py = F(y))
        {
            int pairs = fields * (fields - 1) / 2;
            bool stream = (long)batch * pairs >= PairwiseInnerJob.StreamFloats;
            var job = new PairwiseInnerJob { Fields = fields, Dim = dim, Pairs = pairs, X = px, Y = py, Stream = stream };
            WorkerPool.For(batch, ref job);
        }
    }

    public void PairwiseInnerBackward(int batch, int fields, int dim, BufferView x, BufferView dy, BufferView dx)
    {
        if (dx.IsEmpty) return;
        fixed (float* px = F(x), pdy = F(dy), pdx = F(dx), index = PairwiseInnerJob.Transposed(fields, dim))
        {
            var job = new PairwiseInnerJob
            {
                Fields = fields, Dim = dim, Pairs = fields * (fields - 1) / 2, X = px, DY = pdy, DX = pdx, Index = (int*)index, Backward = true,
            };
            WorkerPool.For(batch, ref job);
        }
    }
}
