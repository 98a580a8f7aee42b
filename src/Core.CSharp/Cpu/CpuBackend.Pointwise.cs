using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using CtrDsl.Backends;

namespace CtrDsl.Cpu;

public sealed unsafe partial class CpuBackend
{
    // A large pointwise call runs over fixed chunks on the pool (ElementChunks).
    private struct UnaryJob : IParallelJob
    {
        public UnaryFn Fn;
        public bool Backward, Accumulate;
        public float* X, Y, DY, DX;
        public long Length;

        public readonly void Run(int chunk)
        {
            long start = (long)chunk * ElementChunks.Size;
            int n = (int)Math.Min(ElementChunks.Size, Length - start);
            if (Backward) UnaryBackwardSpan(Fn, new Span<float>(Y + start, n), new Span<float>(DY + start, n), new Span<float>(DX + start, n), Accumulate);
            else UnarySpan(Fn, new Span<float>(X + start, n), new Span<float>(Y + start, n));
        }
    }

    public void Unary(UnaryFn fn, BufferView x, BufferView y)
    {
        var ys = F(y);
        fixed (float* px = F(x), py = ys)
        {
            var job = new UnaryJob { Fn = fn, X = px, Y = py, Length = ys.Length };
            ElementChunks.For(ElementChunks.Count(ys.Length), ys.Length, ref job);
        }
    }

    private static void UnarySpan(UnaryFn fn, Span<float> xs, Span<float> ys)
    {
        switch (fn)
        {
            case UnaryFn.Relu: TensorPrimitives.Max(xs, 0f, ys); break;
            case UnaryFn.Sigmoid: TensorPrimitives.Sigmoid(xs, ys); break;
            case UnaryFn.Tanh: TensorPrimitives.Tanh(xs, ys); break;
            case UnaryFn.Identity: xs.CopyTo(ys); break;
            default: throw new ArgumentOutOfRangeException(nameof(fn));
        }
    }

    public void UnaryBackward(UnaryFn fn, BufferView x, BufferView y, BufferView dy, BufferView dx, bool accumulate)
    {
        if (dx.IsEmpty) return;
        var dxs = F(dx);
        fixed (float* py = F(y), pdy = F(dy), pdx = dxs)
        {
            var job = new UnaryJob { Fn = fn, Backward = true, Accumulate = accumulate, Y = py, DY = pdy, DX = pdx, Length = dxs.Length };
            ElementChunks.For(ElementChunks.Count(dxs.Length), dxs.Length, ref job);
        }
    }

    private static void UnaryBackwardSpan(UnaryFn fn, Span<float> ys, Span<float> dys, Span<float> dxs, bool accumulate)
    {
        switch (fn)
        {
            case UnaryFn.Relu: Grad<ReluGrad>(ys, dys, dxs, accumulate); break;
            case UnaryFn.Sigmoid: Grad<SigmoidGrad>(ys, dys, dxs, accumulate); break;
            case UnaryFn.Tanh: Grad<TanhGrad>(ys, dys, dxs, accumulate); break;
            case UnaryFn.Identity:
                if (accumulate) TensorPrimitives.Add(dys, dxs, dxs);
                else dys.CopyTo(dxs);
                break;
            default: throw new ArgumentOutOfRangeException(nameof(fn));
        }

        static void Grad<K>(Span<float> ys, Span<float> dys, Span<float> dxs, bool accumulate) where K : IBinaryKernel
        {
            if (accumulate) Elementwise.Accumulate<K>(ys, dys, dxs);
            else Elementwise.Binary<K>(ys, dys, dxs);
        }
    }

    // Parallel over fixed blocks of rows (ColumnSums): each masked row is added into its block's partial bias gradient
    // while it is in L1, and the partials are summed in block order afterwards, the chain ReduceAxis gives the masked
    // gradient of a separate ReLU, so a fused layer trains bit for bit as the separate ops.
    private struct ReluMaskJob : IParallelJob
    {
        public int Rows, Cols;
        public float* Y, DY, Partials; // Partials null: no bias gradient

        public readonly void Run(int block)
        {
            float* partial = Partials == null ? null : Partials + (long)block * Cols;
            if (partial != null) ColumnSums.Clear(partial, Cols);
            for (int r = block * ColumnSums.BlockRows, end = Math.Min(Rows, r + ColumnSums.BlockRows); r < end; r++)
            {
                float* y = Y + (long)r * Cols, dy = DY + (long)r * Cols;
                int j = 0;
                if (Vector512.IsHardwareAccelerated)
                    for (; j + 16 <= Cols; j += 16)
                    {
                        var g = Vector512.ConditionalSelect(Vector512.GreaterThan(Vector512.Load(y + j), Vector512<float>.Zero),
                            Vector512.Load(dy + j), Vector512<float>.Zero);
                        g.Store(dy + j);
                        if (partial != null) (Vector512.Load(partial + j) + g).Store(partial + j);
                    }
                for (; j < Cols; j++)
                {
                    float g = y[j] > 0f ? dy[j] : 0f;
                    dy[j] = g;
                    if (partial != null) partial[j] += g;
                }
            }
        }
    }

    public void ReluMaskBackward(int rows, int cols, BufferView y, BufferView dy, BufferView db, bool accumulate)
    {
        if ((long)rows * cols == 0) return;
        // One column: the mask, then ReduceAxis's own one-column sum (a row sum) over it.
        bool blocked = cols > 1 && !db.IsEmpty;
        int blocks = ColumnSums.Blocks(rows);
        fixed (float* py = F(y), pdy = F(dy), partials = blocked ? ColumnSums.Partials(blocks, cols) : null)
        {
            var job = new ReluMaskJob { Rows = rows, Cols = cols, Y = py, DY = pdy, Partials = partials };
            ElementChunks.For(blocks, (long)rows * cols, ref job);
            if (blocked)
                fixed (float* pdb = F(db)) ColumnSums.Finish(partials, blocks, cols, pdb, accumulate);
        }
        if (cols == 1 && !db.IsEmpty) ReduceAxis(1, rows, 1, 1f, dy, db, accumulate);
    }

    public void Binary(BinaryFn fn, BufferView a, BufferView b, BufferView y)
    {
        var As = F(a);
        var bs = F(b);
        var ys = F(y);
        int period = bs.Length;
        if (period == 0) { if (ys.Length > 0) throw new ArgumentException("binary: empty right operand"); return; }
        if (period == 1)
        {
            // A scalar operand (a [1] bias): one call, not one per element.
            switch (fn)
            {
                case BinaryFn.Add: TensorPrimitives.Add(As[..ys.Length], bs[0], ys); return;
                case BinaryFn.Sub: TensorPrimitives.Subtract(As[..ys.Length], bs[0], ys); return;
                case BinaryFn.Mul: TensorPrimitives.Multiply(As[..ys.Length], bs[0], ys); return;
            }
        }
        for (int start = 0; start < ys.Length; start += period)
        {
            var ar = As.Slice(start, period);
            var yr = ys.Slice(start, period);
            switch (fn)
            {
                case BinaryFn.Add: TensorPrimitives.Add(ar, bs, yr); break;
                case BinaryFn.Sub: TensorPrimitives.Subtract(ar, bs, yr); break;
                case BinaryFn.Mul: TensorPrimitives.Multiply(ar, bs, yr); break;
                default: throw new ArgumentOutOfRangeException(nameof(fn));
            }
        }
    }

    public void BinaryBackward(BinaryFn fn, BufferView a, BufferView b, BufferView dy, BufferView da, BufferView db)
    {
        var As = F(a);
        var bs = F(b);
        var dys = F(dy);
        var das = F(da);
        var dbs = F(db);
        int period = bs.Length;
        if (period == 1 && fn != BinaryFn.Mul)
        {
            // A scalar operand: da gets dy whole, db the sum of dy.
            if (!da.IsEmpty) TensorPrimitives.Add(das[..dys.Length], dys, das[..dys.Length]);
            if (!db.IsEmpty) dbs[0] += fn == BinaryFn.Add ? TensorPrimitives.Sum(dys) : -TensorPrimitives.Sum(dys);
            return;
        }
        for (int start = 0; start < dys.Length; start += period)
        {
            var g = dys.Slice(start, period);
            if (!da.IsEmpty)
            {
                var d = das.Slice(start, period);
                if (fn == BinaryFn.Mul) Elementwise.Accumulate<MulKernel>(g, bs, d);
                else TensorPrimitives.Add(d, g, d);
            }
            if (!db.IsEmpty)
            {
                switch (fn)
                {
                    case BinaryFn.Add: TensorPrimitives.Add(dbs, g, dbs); break;
                    case BinaryFn.Sub: TensorPrimitives.Subtract(dbs, g, dbs); break;
                    case BinaryFn.Mul: Elementwise.Accumulate<MulKernel>(g, As.Slice(start, period), dbs); break;
                }
            }
        }
    }

    public void PRelu(int rows, int cols, BufferView x, BufferView slope, BufferView y)
    {
        var xs = F(x);
        var s = F(slope);
        var ys = F(y);
        for (int r = 0; r < rows; r++)
        {
            var xr = xs.Slice(r * cols, cols);
            var yr = ys.Slice(r * cols, cols);
            for (int j = 0; j < cols; j++) yr[j] = xr[j] >= 0f ? xr[j] : s[j] * xr[j];
        }
    }

    public void PReluBackward(int rows, int cols, BufferView x, BufferView slope, BufferView dy, BufferView dx, BufferView dslope)
    {
        var xs = F(x);
        var s = F(slope);
        var dys = F(dy);
        var dxs = F(dx);
        var ds = F(dslope);
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < cols; j++)
            {
                float xv = xs[r * cols + j], g = dys[r * cols + j];
                if (!dx.IsEmpty) dxs[r * cols + j] += xv >= 0f ? g : s[j] * g;
                if (!dslope.IsEmpty && xv < 0f) ds[j] += g * xv;
            }
        }
    }

    public void Dropout(float rate, ulong seed, BufferView x, BufferView mask, BufferView y)
    {
        var ms = F(mask);
        float keep = 1f / (1f - rate);
        // The top 24 bits of a SplitMix64 hash of (seed, index) give a uniform in [0, 1): the mask depends only on
        // the seed and the position, never on the thread that computes it.
        for (int i = 0; i < ms.Length; i++)
        {
            ulong z = Init.Rng.Finalize(seed + (ulong)i * 0x9E3779B97F4A7C15UL);
            float u = (z >> 40) * (1f / (1 << 24));
            ms[i] = u >= rate ? keep : 0f;
        }
        TensorPrimitives.Multiply(F(x), ms, F(y));
    }

    public void ReduceAxis(int outer, int len, int inner, float scale, BufferView x, BufferView y, bool accumulate)
    {
        if (y.IsEmpty) return;
        var xs = F(x);
        var ys = F(y);
        if (outer == 1 && inner > 1 && scale == 1f)
        {
            // Column sums (a bias gradient): in fixed blocks of rows on the pool (ColumnSums).
            fixed (float* px = xs, py = ys) ColumnSums.Sum(len, inner, px, py, accumulate);
            return;
        }
        for (int o = 0; o < outer; o++)
        {
            var yr = ys.Slice(o * inner, inner);
            if (!accumulate) yr.Clear();
            if (inner == 1)
            {
                // Short rows (a sum over fields): a plain loop beats a library call per row.
                var row = xs.Slice(o * len, len);
                float sum = 0f;
                if (len < 64) foreach (var v in row) sum += v;
                else sum = TensorPrimitives.Sum(row);
                yr[0] += scale * sum;
                continue;
            }
            var block = xs.Slice(o * len * inner, len * inner);
            if (scale == 1f)
                for (int l = 0; l < len; l++) TensorPrimitives.Add(yr, block.Slice(l * inner, inner), yr);
            else
                for (int l = 0; l < len; l++) TensorPrimitives.MultiplyAdd(block.Slice(l * inner, inner), scale, yr, yr);
        }
    }

    public void BroadcastAxis(int outer, int len, int inner, float scale, BufferView dy, BufferView dx)
    {
        if (dx.IsEmpty) return;
        var dys = F(dy);
        var dxs = F(dx);
        for (int o = 0; o < outer; o++)
        {
            if (inner == 1)
            {
                // One value spread over a row: one call per row, not one per element.
                var row = dxs.Slice(o * len, len);
                TensorPrimitives.Add(row, dys[o] * scale, row);
                continue;
            }
            var g = dys.Slice(o * inner, inner);
            for (int l = 0; l < len; l++)
            {
                var d = dxs.Slice((o * len + l) * inner, inner);
                TensorPrimitives.MultiplyAdd(g, scale, d, d);
            }
        }
    }
}
