using CtrDsl.Backends;

namespace CtrDsl.OpenCl;

public sealed partial class OpenClBackend
{
    public void Unary(UnaryFn fn, BufferView x, BufferView y) => K("unary").Int((int)fn).Buf(x).Buf(y).Run(y.Length);

    public void UnaryBackward(UnaryFn fn, BufferView x, BufferView y, BufferView dy, BufferView dx, bool accumulate)
    {
        if (dx.IsEmpty) return;
        if (!accumulate) Fill(dx, 0f);
        K("unary_backward").Int((int)fn).Buf(y).Buf(dy).Buf(dx).Run(dx.Length);
    }

    public void ReluMaskBackward(int rows, int cols, BufferView y, BufferView dy, BufferView db, bool accumulate)
    {
        long n = (long)rows * cols;
        if (n == 0) return;
        K("relu_mask").Buf(y).Buf(dy).Run(n);
        ReduceAxis(1, rows, cols, 1f, dy.Take(n), db, accumulate);
    }

    public void Binary(BinaryFn fn, BufferView a, BufferView b, BufferView y)
    {
        if (b.Length == 0) { if (y.Length > 0) throw new ArgumentException("binary: empty right operand"); return; }
        K("binary").Int((int)fn).Buf(a).Buf(b).Buf(y).Int((int)b.Length).Run(y.Length);
    }

    public void BinaryBackward(BinaryFn fn, BufferView a, BufferView b, BufferView dy, BufferView da, BufferView db)
    {
        int period = (int)b.Length;
        if (period == 0) return;
        if (!da.IsEmpty) K("binary_backward_a").Int((int)fn).Buf(b).Buf(dy).Buf(da).Int(period).Run(dy.Length);
        if (!db.IsEmpty) K("binary_backward_b").Int((int)fn).Buf(a).Buf(dy).Buf(db).Int(period).Int((int)dy.Length).Run(period);
    }

    public void PRelu(int rows, int cols, BufferView x, BufferView slope, BufferView y) =>
        K("prelu").Int(cols).Buf(x).Buf(slope).Buf(y).Run((long)rows * cols);

    public void PReluBackward(int rows, int cols, BufferView x, BufferView slope, BufferView dy, BufferView dx, BufferView dslope)
    {
        if (!dx.IsEmpty) K("prelu_backward_x").Int(cols).Buf(x).Buf(slope).Buf(dy).Buf(dx).Run((long)rows * cols);
        if (!dslope.IsEmpty) K("prelu_backward_slope").Int(rows).Int(cols).Buf(x).Buf(dy).Buf(dslope).Run(cols);
    }

    public void Dropout(float rate, ulong seed, BufferView x, BufferView mask, BufferView y) =>
        K("dropout").Float(rate).Float(1f / (1f - rate)).ULong(seed).Buf(x).Buf(mask).Buf(y).Run(mask.Length);

    public void ReduceAxis(int outer, int len, int inner, float scale, BufferView x, BufferView y, bool accumulate)
    {
        if (y.IsEmpty) return;
        K("reduce_axis").Int(len).Int(inner).Float(scale).Buf(x).Buf(y).Int(accumulate ? 1 : 0).Run((long)outer * inner);
    }

    public void BroadcastAxis(int outer, int len, int inner, float scale, BufferView dy, BufferView dx)
    {
        if (dx.IsEmpty) return;
        K("broadcast_axis").Int(len).Int(inner).Float(scale).Buf(dy).Buf(dx).Run((long)outer * len * inner);
    }
}
