using System.Runtime.Intrinsics;
using System.Numerics.Tensors;
using CtrDsl.Backends;

namespace CtrDsl.Cpu;

public sealed unsafe partial class CpuBackend
{
    // A (h, 1) kernel moves along fields only. With each input channel copied into a zero-padded row
    // xp[c] = [top zero rows | x[b, c] | bottom zero rows] (each row k wide), output position p of channel o is
    // y[o, p] = bias_o + Σ_c Σ_t w[o, c, t]·xp[c, p + t·k]: every tap is a shifted contiguous load, so a block of
    // output positions stays in vector registers across all (c, t) and no boundary test runs in the loop.
    // The input gradient is the same sum over dy padded by h−1 rows, with the taps reversed and the channel roles
    // swapped; weight gradients are dot products of dy with the shifted rows, summed per batch chunk and then over
    // chunks in order (the same bits for any thread count).

    /// <summary>out[o, p] = init_o + Σ_c Σ_t w(o, c, t)·src[c·srcStride + p + t·k] for p in [0, n), w laid out
    /// [outs; ins; h]. With AVX-512, four output rows at a time (<see cref="ConvRows4"/>; a last group of fewer rows
    /// repeats its last one and stores only its own), else one by one.</summary>
    private static void ConvRows(int outs, int ins, int h, int k, int n, float* w, float* src, int srcStride, float* init,
        float* dst, bool accumulate)
    {
        if (!Vector512.IsHardwareAccelerated)
        {
            for (int o = 0; o < outs; o++) ConvRow(o, ins, h, k, n, w, src, srcStride, init, dst, accumulate);
            return;
        }
        // Each tap (c, t) as one offset into src: the blocks below run a single loop over taps, which the JIT keeps
        // in registers (nested loops over c and t made it store every accumulator after each FMA).
        int taps = ins * h;
        int* offsets = stackalloc int[taps];
        for (int c = 0, j = 0; c < ins; c++)
            for (int t = 0; t < h; t++, j++) offsets[j] = c * srcStride + t * k;
        for (int o = 0; o < outs; o += 4) ConvRows4(o, Math.Min(4, outs - o), taps, offsets, n, w, src, init, dst, accumulate);
    }

    /// <summary>
    /// Output rows o0 … o0+rows−1 (rows ≤ 4) of <see cref="ConvRows"/>: each tap's row vectors feed four FMAs (sixteen
    /// accumulators over 64 positions). The last vector of a row may run past n: its lanes come from the padding and
    /// the scratch's slack (at least 64 values past the last row), are independent of the others, and are not stored.
    /// </summary>
    private static void ConvRows4(int o0, int rows, int taps, int* offsets, int n, float* w, float* src, float* init,
        float* dst, bool accumulate)
    {
        int o1 = o0 + Math.Min(1, rows - 1), o2 = o0 + Math.Min(2, rows - 1), o3 = o0 + Math.Min(3, rows - 1);
        var rw = new ConvRowsOut
        {
            W0 = w + (long)o0 * taps, W1 = w + (long)o1 * taps, W2 = w + (long)o2 * taps, W3 = w + (long)o3 * taps,
            Y0 = dst + (long)o0 * n, Y1 = rows > 1 ? dst + (long)o1 * n : null,
            Y2 = rows > 2 ? dst + (long)o2 * n : null, Y3 = rows > 3 ? dst + (long)o3 * n : null,
            I0 = init == null ? 0f : init[o0], I1 = init == null ? 0f : init[o1],
            I2 = init == null ? 0f : init[o2], I3 = init == null ? 0f : init[o3],
        };
        // Whole 64-position blocks, and a last block of more than 32 positions too (stored in part): sixteen
        // independent chains keep both FMA ports busy where four one-vector chains would wait on FMA latency.
        // The blocks leave their sums in acc (row i at acc + 64·i) and the stores happen here: a call after the
        // loop that took the sums as arguments made the JIT store them to the stack after every FMA.
        float* acc = stackalloc float[256];
        int p = 0;
        for (; n - p > 32; p += 64)
        {
            ConvBlock64(ref rw, taps, offsets, src + p, acc);
            StoreRows(ref rw, p, acc, Math.Min(64, n - p), accumulate);
        }
        for (; p < n; p += 16)
        {
            ConvBlock16(ref rw, taps, offsets, src + p, acc);
            StoreRows(ref rw, p, acc, Math.Min(16, n - p), accumulate);
        }
    }

    /// <summary>Row i's first <paramref name="valid"/> sums (at acc + 64·i) stored at its destination + p, or added
    /// to it; rows without a destination are skipped.</summary>
    private static void StoreRows(ref ConvRowsOut rw, int p, float* acc, int valid, bool accumulate)
    {
        StoreRow(rw.Y0, acc);
        StoreRow(rw.Y1, acc + 64);
        StoreRow(rw.Y2, acc + 128);
        StoreRow(rw.Y3, acc + 192);

        void StoreRow(float* row, float* sums)
        {
            if (row == null) return;
            var from = new ReadOnlySpan<float>(sums, valid);
            var to = new Span<float>(row + p, valid);
            if (accumulate) TensorPrimitives.Add(to, from, to);
            else from.CopyTo(to);
        }
    }

    /// <summary>Four output rows' weights (taps each), destinations (null: not stored) and initial values.</summary>
    private struct ConvRowsOut
    {
        public float* W0, W1, W2, W3, Y0, Y1, Y2, Y3;
        public float I0, I1, I2, I3;
    }

    /// <summary>Positions p … p+63 of the four rows: one loop over the taps, sixteen accumulators.</summary>
    private static void ConvBlock64(ref ConvRowsOut rw, int taps, int* offsets, float* src, float* acc)
    {
        float* w0 = rw.W0, w1 = rw.W1, w2 = rw.W2, w3 = rw.W3;
        Vector512<float> a00 = Vector512.Create(rw.I0), a01 = a00, a02 = a00, a03 = a00;
        Vector512<float> a10 = Vector512.Create(rw.I1), a11 = a10, a12 = a10, a13 = a10;
        Vector512<float> a20 = Vector512.Create(rw.I2), a21 = a20, a22 = a20, a23 = a20;
        Vector512<float> a30 = Vector512.Create(rw.I3), a31 = a30, a32 = a30, a33 = a30;
        for (int j = 0; j < taps; j++)
        {
            float* r = src + offsets[j];
            var x0 = Vector512.Load(r); var x1 = Vector512.Load(r + 16); var x2 = Vector512.Load(r + 32); var x3 = Vector512.Load(r + 48);
            var b = Vector512.Create(w0[j]);
            a00 = Vector512.FusedMultiplyAdd(b, x0, a00); a01 = Vector512.FusedMultiplyAdd(b, x1, a01);
            a02 = Vector512.FusedMultiplyAdd(b, x2, a02); a03 = Vector512.FusedMultiplyAdd(b, x3, a03);
            b = Vector512.Create(w1[j]);
            a10 = Vector512.FusedMultiplyAdd(b, x0, a10); a11 = Vector512.FusedMultiplyAdd(b, x1, a11);
            a12 = Vector512.FusedMultiplyAdd(b, x2, a12); a13 = Vector512.FusedMultiplyAdd(b, x3, a13);
            b = Vector512.Create(w2[j]);
            a20 = Vector512.FusedMultiplyAdd(b, x0, a20); a21 = Vector512.FusedMultiplyAdd(b, x1, a21);
            a22 = Vector512.FusedMultiplyAdd(b, x2, a22); a23 = Vector512.FusedMultiplyAdd(b, x3, a23);
            b = Vector512.Create(w3[j]);
            a30 = Vector512.FusedMultiplyAdd(b, x0, a30); a31 = Vector512.FusedMultiplyAdd(b, x1, a31);
            a32 = Vector512.FusedMultiplyAdd(b, x2, a32); a33 = Vector512.FusedMultiplyAdd(b, x3, a33);
        }
        a00.Store(acc); a01.Store(acc + 16); a02.Store(acc + 32); a03.Store(acc + 48);
        a10.Store(acc + 64); a11.Store(acc + 80); a12.Store(acc + 96); a13.Store(acc + 112);
        a20.Store(acc + 128); a21.Store(acc + 144); a22.Store(acc + 160); a23.Store(acc + 176);
        a30.Store(acc + 192); a31.Store(acc + 208); a32.Store(acc + 224); a33.Store(acc + 240);
    }

    /// <summary>Positions p … p+15 of the four rows.</summary>
    private static void ConvBlock16(ref ConvRowsOut rw, int taps, int* offsets, float* src, float* acc)
    {
        float* w0 = rw.W0, w1 = rw.W1, w2 = rw.W2, w3 = rw.W3;
        Vector512<float> a0 = Vector512.Create(rw.I0), a1 = Vector512.Create(rw.I1);
        Vector512<float> a2 = Vector512.Create(rw.I2), a3 = Vector512.Create(rw.I3);
        for (int j = 0; j < taps; j++)
        {
            var x = Vector512.Load(src + offsets[j]);
            a0 = Vector512.FusedMultiplyAdd(Vector512.Create(w0[j]), x, a0);
            a1 = Vector512.FusedMultiplyAdd(Vector512.Create(w1[j]), x, a1);
            a2 = Vector512.FusedMultiplyAdd(Vector512.Create(w2[j]), x, a2);
            a3 = Vector512.FusedMultiplyAdd(Vector512.Create(w3[j]), x, a3);
        }
        a0.Store(acc); a1.Store(acc + 64); a2.Store(acc + 128); a3.Store(acc + 192);
    }

    /// <summary>Output row o of <see cref="ConvRows"/> without AVX-512: eight positions at a time with AVX2, the rest one
    /// by one.</summary>
    private static void ConvRow(int o, int ins, int h, int k, int n, float* w, float* src, int srcStride, float* init,
        float* dst, bool accumulate)
    {
        float* y = dst + (long)o * n;
        float* wo = w + (long)o * ins * h;
        float start = init == null ? 0f : init[o];
        int p = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; p + 8 <= n; p += 8)
            {
                var a0 = Vector256.Create(start);
                for (int c = 0; c < ins; c++)
                {
                    float* row = src + (long)c * srcStride + p;
                    for (int t = 0; t < h; t++) a0 = Vector256.FusedMultiplyAdd(Vector256.Create(wo[c * h + t]), Vector256.Load(row + t * k), a0);
                }
                if (accumulate) a0 += Vector256.Load(y + p);
                a0.Store(y + p);
            }
        }
        for (; p < n; p++)
        {
            float a = start;
            for (int c = 0; c < ins; c++)
            {
                float* row = src + (long)c * srcStride + p;
                for (int t = 0; t < h; t++) a = MathF.FusedMultiplyAdd(wo[c * h + t], row[t * k], a);
            }
            y[p] = accumulate ? y[p] + a : a;
        }
    }

    /// <summary>
    /// dw[o, c, t] += Σ_s Σ_p g_s[o, p]·xp_s[c·xStride + p + t·k] over the <paramref name="samples"/> samples s of a chunk
    /// (g_s [outs; n] at g + s·gSample, xp_s at xp + s·xSample, taps j = (c, t)) and p in [0, n). With AVX-512, blocks of
    /// four output channels by four taps keep sixteen vector sums across all the chunk's samples
    /// (<see cref="WeightGradBlock"/>), so each loaded vector feeds four FMAs and a sum's lanes are added once per
    /// chunk, in a fixed order. A block past the last channel or tap repeats the last one and its sums are dropped.
    /// The last vector of a row is read through a zero-padded copy of g (<paramref name="tails"/>, 64 floats per
    /// sample) and masked x, so lanes past n add nothing. Without AVX-512, one dot product per channel, tap and sample.
    /// </summary>
    private static void ConvWeightGrad(int outs, int ins, int h, int k, int n, int samples, float* g, long gSample, float* xp,
        long xSample, int xStride, float* dw, float* tails)
    {
        int taps = ins * h;
        long Tap(int j) => (long)Math.Min(j, taps - 1) / h * xStride + Math.Min(j, taps - 1) % h * k;
        if (!Vector512.IsHardwareAccelerated)
        {
            for (int s = 0; s < samples; s++)
                for (int o = 0; o < outs; o++)
                    for (int j = 0; j < taps; j++)
                        dw[(long)o * taps + j] += TensorPrimitives.Dot(new ReadOnlySpan<float>(g + s * gSample + (long)o * n, n),
                            new ReadOnlySpan<float>(xp + s * xSample + Tap(j), n));
            return;
        }
        int full = n / 16 * 16, rest = n - full;
        float* sums = stackalloc float[256];
        var block = new WeightGradRows { Samples = samples, Full = full, Rest = rest, G = g, GSample = gSample, X = xp, XSample = xSample, Tails = tails };
        for (int o = 0; o < outs; o += 4)
        {
            block.R0 = (long)o * n; block.R1 = (long)Math.Min(o + 1, outs - 1) * n;
            block.R2 = (long)Math.Min(o + 2, outs - 1) * n; block.R3 = (long)Math.Min(o + 3, outs - 1) * n;
            if (rest > 0)
            {
                new Span<float>(tails, samples * 64).Clear();
                for (int s = 0; s < samples; s++)
                    for (int i = 0; i < rest; i++)
                    {
                        float* gs = g + s * gSample + full + i, ts = tails + s * 64 + i;
                        ts[0] = gs[block.R0]; ts[16] = gs[block.R1]; ts[32] = gs[block.R2]; ts[48] = gs[block.R3];
                    }
            }
            for (int j = 0; j < taps; j += 4)
            {
                WeightGradBlock(ref block, Tap(j), Tap(j + 1), Tap(j + 2), Tap(j + 3), sums);
                for (int i = 0; i < 4 && o + i < outs; i++)
                    for (int jj = 0; jj < 4 && j + jj < taps; jj++)
                        dw[(long)(o + i) * taps + j + jj] += Vector512.Sum(Vector512.Load(sums + 16 * (4 * i + jj)));
            }
        }
    }

    /// <summary>What <see cref="WeightGradBlock"/> reads: the chunk's samples, the four g rows' offsets, the tails.</summary>
    private struct WeightGradRows
    {
        public int Samples, Full, Rest;
        public float* G, X, Tails;
        public long GSample, XSample, R0, R1, R2, R3;
    }

    /// <summary>The sixteen vector sums of rows R0…R3 by taps t0…t3 over the chunk, left at sums + 16·(4·row + tap):
    /// one function with one loop nest and no call after it, so the JIT keeps the sums in registers.</summary>
    private static void WeightGradBlock(ref WeightGradRows b, long t0, long t1, long t2, long t3, float* sums)
    {
        int full = b.Full;
        var mask = Vector512.LessThan(Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), Vector512.Create(b.Rest)).AsSingle();
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default, a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default, a30 = default, a31 = default, a32 = default, a33 = default;
        for (int s = 0; s < b.Samples; s++)
        {
            float* xs = b.X + s * b.XSample, gs = b.G + s * b.GSample;
            float* x0 = xs + t0, x1 = xs + t1, x2 = xs + t2, x3 = xs + t3, g0 = gs + b.R0, g1 = gs + b.R1, g2 = gs + b.R2, g3 = gs + b.R3;
            for (int p = 0; p <= full; p += 16)
            {
                Vector512<float> v0, v1, v2, v3, u0, u1, u2, u3;
                if (p < full)
                {
                    v0 = Vector512.Load(x0 + p); v1 = Vector512.Load(x1 + p); v2 = Vector512.Load(x2 + p); v3 = Vector512.Load(x3 + p);
                    u0 = Vector512.Load(g0 + p); u1 = Vector512.Load(g1 + p); u2 = Vector512.Load(g2 + p); u3 = Vector512.Load(g3 + p);
                }
                else if (b.Rest > 0)
                {
                    v0 = Vector512.ConditionalSelect(mask, Vector512.Load(x0 + p), default); v1 = Vector512.ConditionalSelect(mask, Vector512.Load(x1 + p), default);
                    v2 = Vector512.ConditionalSelect(mask, Vector512.Load(x2 + p), default); v3 = Vector512.ConditionalSelect(mask, Vector512.Load(x3 + p), default);
                    float* ts = b.Tails + s * 64;
                    u0 = Vector512.Load(ts); u1 = Vector512.Load(ts + 16); u2 = Vector512.Load(ts + 32); u3 = Vector512.Load(ts + 48);
                }
                else break;
                a00 = Vector512.FusedMultiplyAdd(u0, v0, a00); a01 = Vector512.FusedMultiplyAdd(u0, v1, a01);
                a02 = Vector512.FusedMultiplyAdd(u0, v2, a02); a03 = Vector512.FusedMultiplyAdd(u0, v3, a03);
                a10 = Vector512.FusedMultiplyAdd(u1, v0, a10); a11 = Vector512.FusedMultiplyAdd(u1, v1, a11);
                a12 = Vector512.FusedMultiplyAdd(u1, v2, a12); a13 = Vector512.FusedMultiplyAdd(u1, v3, a13);
                a20 = Vector512.FusedMultiplyAdd(u2, v0, a20); a21 = Vector512.FusedMultiplyAdd(u2, v1, a21);
                a22 = Vector512.FusedMultiplyAdd(u2, v2, a22); a23 = Vector512.FusedMultiplyAdd(u2, v3, a23);
                a30 = Vector512.FusedMultiplyAdd(u3, v0, a30); a31 = Vector512.FusedMultiplyAdd(u3, v1, a31);
                a32 = Vector512.FusedMultiplyAdd(u3, v2, a32); a33 = Vector512.FusedMultiplyAdd(u3, v3, a33);
            }
        }
        a00.Store(sums); a01.Store(sums + 16); a02.Store(sums + 32); a03.Store(sums + 48);
        a10.Store(sums + 64); a11.Store(sums + 80); a12.Store(sums + 96); a13.Store(sums + 112);
        a20.Store(sums + 128); a21.Store(sums + 144); a22.Store(sums + 160); a23.Store(sums + 176);
        a30.Store(sums + 192); a31.Store(sums + 208); a32.Store(sums + 224); a33.Store(sums + 240);
    }

    private struct ConvShape
    {
        public int Batch, Cin, Cout, Fields, Dim, H;
        public readonly int Plane => Fields * Dim;
        public readonly int Top => (H - 1) / 2;
    }

    /// <summary>row = [before zeros | the n values at src | after zeros].</summary>
    private static void PadRow(float* row, float* src, int n, int before, int after)
    {
        new Span<float>(row, before).Clear();
        new ReadOnlySpan<float>(src, n).CopyTo(new Span<float>(row + before, n));
        new Span<float>(row + before + n, after).Clear();
    }

    private struct ConvForwardJob : IParallelJob
    {
        public ConvShape S;
        public float* X, W, Bias, Y;

        [ThreadStatic] private static float[]? t_padded;

        public readonly void Run(int b)
        {
            int plane = S.Plane, top = S.Top, stride = plane + (S.H - 1) * S.Dim;
            var padded = BatchChunks.Scratch(ref t_padded, (long)S.Cin * stride + 64);
            fixed (float* xp = padded)
            {
                for (int c = 0; c < S.Cin; c++)
                    PadRow(xp + (long)c * stride, X + ((long)b * S.Cin + c) * plane, plane, top * S.Dim, (S.H - 1 - top) * S.Dim);
                ConvRows(S.Cout, S.Cin, S.H, S.Dim, plane, W, xp, stride, Bias, Y + (long)b * S.Cout * plane, accumulate: false);
            }
        }
    }

    private struct ConvBackwardJob : IParallelJob
    {
        public ConvShape S;
        public float* X, WFlipped, DY, DX, Partials; // Partials: per chunk, dw then dbias
        public bool WantDx, WantDw, WantDbias, AccumulateDx;

        [ThreadStatic] private static float[]? t_x, t_dy, t_tails;

        public readonly void Run(int chunk)
        {
            var (start, end) = BatchChunks.Range(chunk, S.Batch);
            int plane = S.Plane, h = S.H, k = S.Dim, top = S.Top, wSize = S.Cout * S.Cin * h;
            int xStride = plane + (h - 1) * k, dyStride = plane + 2 * (h - 1) * k;
            long xSample = (long)S.Cin * xStride;
            float* dw = Partials + (long)chunk * (wSize + S.Cout);
            float* db = dw + wSize;
            new Span<float>(dw, wSize + S.Cout).Clear();
            // The chunk's samples padded one after another: the weight gradient runs over all of them at once.
            var xs = BatchChunks.Scratch(ref t_x, BatchChunks.Rows * xSample + 64);
            var dys = BatchChunks.Scratch(ref t_dy, (long)S.Cout * dyStride + 64);
            var tails = BatchChunks.Scratch(ref t_tails, BatchChunks.Rows * 64);
            fixed (float* xp = xs, dyp = dys, tp = tails)
            {
                for (int b = start; b < end; b++)
                {
                    if (WantDw)
                        for (int c = 0; c < S.Cin; c++)
                            PadRow(xp + (b - start) * xSample + (long)c * xStride, X + ((long)b * S.Cin + c) * plane, plane, top * k, (h - 1 - top) * k);
                    for (int o = 0; o < S.Cout; o++)
                    {
                        var g = new ReadOnlySpan<float>(DY + ((long)b * S.Cout + o) * plane, plane);
                        if (WantDbias) db[o] += TensorPrimitives.Sum(g);
                        if (WantDx) PadRow(dyp + (long)o * dyStride, DY + ((long)b * S.Cout + o) * plane, plane, (h - 1) * k, (h - 1) * k);
                    }
                    // dx[c, q] = Σ_o Σ_t' wFlipped[c, o, t']·dyp[o, q + top·k + t'·k] with wFlipped[c, o, t'] = w[o, c, h−1−t'].
                    if (WantDx)
                        ConvRows(S.Cin, S.Cout, h, k, plane, WFlipped, dyp + top * k, dyStride, null, DX + (long)b * S.Cin * plane, AccumulateDx);
                }
                if (WantDw)
                    ConvWeightGrad(S.Cout, S.Cin, h, k, plane, end - start, DY + (long)start * S.Cout * plane, (long)S.Cout * plane, xp,
                        xSample, xStride, dw, tp);
            }
        }
    }

    private float[]? _convPartials, _convFlipped;

    public void FieldConv(int batch, int cin, int cout, int fields, int dim, int h, BufferView x, BufferView w, BufferView bias, BufferView y)
    {
        var shape = new ConvShape { Batch = batch, Cin = cin, Cout = cout, Fields = fields, Dim = dim, H = h };
        fixed (float* px = F(x), pw = F(w), pb = F(bias), py = F(y))
        {
            var job = new ConvForwardJob { S = shape, X = px, W = pw, Bias = pb, Y = py };
            WorkerPool.For(batch, ref job);
        }
    }

    public void FieldConvBackward(int batch, int cin, int cout, int fields, int dim, int h, BufferView x, BufferView w,
        BufferView dy, BufferView dx, BufferView dw, BufferView dbias, bool accumulateDx)
    {
        var shape = new ConvShape { Batch = batch, Cin = cin, Cout = cout, Fields = fields, Dim = dim, H = h };
        int chunks = BatchChunks.Count(batch), wSize = cout * cin * h;
        var partials = BatchChunks.Scratch(ref _convPartials, (long)chunks * (wSize + cout));
        var ws = F(w);
        var flipped = BatchChunks.Scratch(ref _convFlipped, wSize);
        for (int o = 0; o < cout; o++)
            for (int c = 0; c < cin; c++)
                for (int t = 0; t < h; t++)
                    flipped[(c * cout + o) * h + (h - 1 - t)] = ws[(o * cin + c) * h + t];
        fixed (float* px = F(x), pf = flipped, pdy = F(dy), pdx = F(dx), pp = partials)
        {
            var job = new ConvBackwardJob
            {
                S = shape, X = px, WFlipped = pf, DY = pdy, DX = pdx, Partials = pp,
                WantDx = !dx.IsEmpty, WantDw = !dw.IsEmpty, WantDbias = !dbias.IsEmpty, AccumulateDx = accumulateDx,
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
}
