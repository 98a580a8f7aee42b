using CtrDsl.Backends;
using TorchSharp;
using static TorchSharp.torch;

namespace CtrDsl.Torch;

public sealed partial class TorchBackend
{
    public void Unary(UnaryFn fn, BufferView x, BufferView y)
    {
        if (y.IsEmpty || y.Length == 0) return;
        using var scope = NewDisposeScope();
        var xs = T(x).narrow(0, 0, y.Length);
        T(y).copy_(fn switch
        {
            UnaryFn.Relu => xs.relu(),
            UnaryFn.Sigmoid => xs.sigmoid(),
            UnaryFn.Tanh => xs.tanh(),
            _ => xs,
        });
    }

    // Every rule reads the saved output: relu dy·[y > 0], sigmoid dy·y·(1−y), tanh dy·(1−y²).
    public void UnaryBackward(UnaryFn fn, BufferView x, BufferView y, BufferView dy, BufferView dx, bool accumulate)
    {
        if (dx.IsEmpty || dx.Length == 0) return;
        using var scope = NewDisposeScope();
        long n = dx.Length;
        var g = T(dy).narrow(0, 0, n);
        var ys = fn == UnaryFn.Identity ? null : T(y).narrow(0, 0, n);
        var grad = fn switch
        {
            UnaryFn.Relu => g.mul(ys!.gt(0f)),
            UnaryFn.Sigmoid => g.mul(ys!).mul(ys!.neg().add(1f)),
            UnaryFn.Tanh => g.mul(ys!.square().neg().add(1f)),
            _ => g,
        };
        if (accumulate) T(dx).add_(grad);
        else T(dx).copy_(grad);
    }

    public void ReluMaskBackward(int rows, int cols, BufferView y, BufferView dy, BufferView db, bool accumulate)
    {
        long n = (long)rows * cols;
        if (n == 0) return;
        using (NewDisposeScope())
        {
            // !(y > 0), so a NaN output masks its gradient too.
            T(dy, n).masked_fill_(T(y, n).gt(0f).logical_not(), 0f);
        }
        ReduceAxis(1, rows, cols, 1f, dy.Take(n), db, accumulate);
    }

    // b repeats along a: a viewed as [n / period; period] broadcasts against b [period].
    public void Binary(BinaryFn fn, BufferView a, BufferView b, BufferView y)
    {
        if (b.Length == 0) { if (y.Length > 0) throw new ArgumentException("binary: empty right operand"); return; }
        if (y.IsEmpty || y.Length == 0) return;
        using var scope = NewDisposeScope();
        long period = b.Length, rows = Rows(y.Length, period);
        var (av, bv) = (T(a, rows, period), T(b, period));
        T(y, rows, period).copy_(fn switch
        {
            BinaryFn.Add => av.add(bv),
            BinaryFn.Sub => av.sub(bv),
            _ => av.mul(bv),
        });
    }

    public void BinaryBackward(BinaryFn fn, BufferView a, BufferView b, BufferView dy, BufferView da, BufferView db)
    {
        long period = b.Length;
        if (period == 0 || dy.Length == 0) return;
        using var scope = NewDisposeScope();
        long rows = Rows(dy.Length, period);
        var g = T(dy, rows, period);
        if (!da.IsEmpty) T(da, rows, period).add_(fn == BinaryFn.Mul ? g.mul(T(b, period)) : g);
        if (db.IsEmpty) return;
        var s = (fn == BinaryFn.Mul ? g.mul(T(a, rows, period)) : g).sum([0]);
        T(db, period).add_(s, fn == BinaryFn.Sub ? -1f : 1f);
    }

    private static long Rows(long n, long period) =>
        n % period == 0 ? n / period : throw new ArgumentException($"binary: {n} values do not repeat a right operand of {period}");

    public void PRelu(int rows, int cols, BufferView x, BufferView slope, BufferView y)
    {
        if ((long)rows * cols == 0) return;
        using var scope = NewDisposeScope();
        var xs = T(x, rows, cols);
        T(y, rows, cols).copy_(where(xs.ge(0f), xs, xs.mul(T(slope, cols))));
    }

    public void PReluBackward(int rows, int cols, BufferView x, BufferView slope, BufferView dy, BufferView dx, BufferView dslope)
    {
        if ((long)rows * cols == 0) return;
        using var scope = NewDisposeScope();
        var (xs, g) = (T(x, rows, cols), T(dy, rows, cols));
        var negative = xs.lt(0f);
        if (!dx.IsEmpty) T(dx, rows, cols).add_(where(negative, g.mul(T(slope, cols)), g));
        if (!dslope.IsEmpty) T(dslope, cols).add_(g.mul(xs).mul(negative).sum([0]));
    }

    // The CPU backend's mask, computed on the host from (seed, index) and uploaded: both backends drop the same units.
    public void Dropout(float rate, ulong seed, BufferView x, BufferView mask, BufferView y)
    {
        long n = mask.Length;
        if (n == 0) return;
        var host = new float[n];
        float keep = 1f / (1f - rate);
        for (long i = 0; i < n; i++)
        {
            ulong z = Init.Rng.Finalize(seed + (ulong)i * 0x9E3779B97F4A7C15UL);
            float u = (z >> 40) * (1f / (1 << 24));
            host[i] = u >= rate ? keep : 0f;
        }
        Upload(host, mask);
        using var scope = NewDisposeScope();
        T(y, n).copy_(T(x, n).mul(T(mask, n)));
    }

    public void ReduceAxis(int outer, int len, int inner, float scale, BufferView x, BufferView y, bool accumulate)
    {
        if (y.IsEmpty || (long)outer * inner == 0) return;
        using var scope = NewDisposeScope();
        var s = T(x, outer, len, inner).sum(1);
        if (scale != 1f) s = s.mul(scale);
        var ys = T(y, outer, inner);
        if (accumulate) ys.add_(s); else ys.copy_(s);
    }

    public void BroadcastAxis(int outer, int len, int inner, float scale, BufferView dy, BufferView dx)
    {
        if (dx.IsEmpty || (long)outer * len * inner == 0) return;
        using var scope = NewDisposeScope();
        T(dx, outer, len, inner).add_(T(dy, outer, 1, inner), scale);
    }
}
