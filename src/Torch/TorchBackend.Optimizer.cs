using CtrDsl.Backends;
using TorchSharp;
using static TorchSharp.torch;

namespace CtrDsl.Torch;

// The rules of Optim/*Kernel.cs, operation for operation, in place on the resident tensors. A rows step gathers the
// touched rows of the weight and its state (index_select), applies the same rule, and writes them back (index_copy_;
// the accumulator's rows are unique, so no row is written twice). l2 ≠ 0 first adds l2·w to the gradient, in the
// gradient buffer, as Regularization.AddGradient does.
public sealed partial class TorchBackend
{
    public void AdamStep(BufferView w, BufferView g, BufferView m, BufferView v, in AdamCoefficients c, float l2)
    {
        if (w.Length == 0) return;
        using var scope = NewDisposeScope();
        Adam(T(w), Grad(T(g), T(w), l2), T(m), T(v), c);
    }

    public void AdamRowsStep(int dim, ReadOnlySpan<int> rows, BufferView grads, BufferView w, BufferView m, BufferView v, in AdamCoefficients c, float l2)
    {
        if (rows.Length == 0 || dim == 0) return;
        using var scope = NewDisposeScope();
        var (idx, ws, ms, vs) = (RowIndex(rows, w, dim), Table(w, dim), Table(m, dim), Table(v, dim));
        var (wr, mr, vr) = (ws.index_select(0, idx), ms.index_select(0, idx), vs.index_select(0, idx));
        Adam(wr, Grad(T(grads, rows.Length, dim), wr, l2), mr, vr, c);
        ws.index_copy_(0, idx, wr); ms.index_copy_(0, idx, mr); vs.index_copy_(0, idx, vr);
    }

    private static void Adam(Tensor w, Tensor g, Tensor m, Tensor v, in AdamCoefficients c)
    {
        if (c.Decay != 1f) w.mul_(c.Decay);
        m.mul_(c.Beta1).add_(g, 1f - c.Beta1);
        v.mul_(c.Beta2).add_(g.square(), 1f - c.Beta2);
        w.sub_(m.div(v.sqrt().div(c.SqrtBiasCorrection2).add(c.Eps)).mul(c.StepSize));
    }

    public void AdagradStep(BufferView w, BufferView g, BufferView sum, in AdagradCoefficients c, float l2)
    {
        if (w.Length == 0) return;
        using var scope = NewDisposeScope();
        Adagrad(T(w), Grad(T(g), T(w), l2), T(sum), c);
    }

    public void AdagradRowsStep(int dim, ReadOnlySpan<int> rows, BufferView grads, BufferView w, BufferView sum, in AdagradCoefficients c, float l2)
    {
        if (rows.Length == 0 || dim == 0) return;
        using var scope = NewDisposeScope();
        var (idx, ws, ss) = (RowIndex(rows, w, dim), Table(w, dim), Table(sum, dim));
        var (wr, sr) = (ws.index_select(0, idx), ss.index_select(0, idx));
        Adagrad(wr, Grad(T(grads, rows.Length, dim), wr, l2), sr, c);
        ws.index_copy_(0, idx, wr); ss.index_copy_(0, idx, sr);
    }

    private static void Adagrad(Tensor w, Tensor g, Tensor sum, in AdagradCoefficients c)
    {
        sum.add_(g.square());
        w.sub_(g.div(sum.sqrt().add(c.Eps)).mul(c.LearningRate));
    }

    public void SgdStep(BufferView w, BufferView g, BufferView momentum, in SgdCoefficients c, float l2)
    {
        if (w.Length == 0) return;
        using var scope = NewDisposeScope();
        Sgd(T(w), Grad(T(g), T(w), l2), momentum.IsEmpty ? null : T(momentum), c);
    }

    public void SgdRowsStep(int dim, ReadOnlySpan<int> rows, BufferView grads, BufferView w, BufferView momentum, in SgdCoefficients c, float l2)
    {
        if (rows.Length == 0 || dim == 0) return;
        using var scope = NewDisposeScope();
        var (idx, ws) = (RowIndex(rows, w, dim), Table(w, dim));
        var wr = ws.index_select(0, idx);
        var bs = momentum.IsEmpty ? null : Table(momentum, dim);
        var br = bs?.index_select(0, idx);
        Sgd(wr, Grad(T(grads, rows.Length, dim), wr, l2), br, c);
        ws.index_copy_(0, idx, wr);
        if (bs is not null) bs.index_copy_(0, idx, br!);
    }

    // b ← μ·b + g; w ← w − lr·(g + μ·b) (Nesterov) or w − lr·b; without a buffer w ← w − lr·g.
    private static void Sgd(Tensor w, Tensor g, Tensor? b, in SgdCoefficients c)
    {
        if (b is null) { w.add_(g, -c.LearningRate); return; }
        b.mul_(c.Momentum).add_(g);
        w.sub_((c.Nesterov ? g.add(b, c.Momentum) : b).mul(c.LearningRate));
    }

    private static Tensor Grad(Tensor g, Tensor w, float l2) => l2 == 0f ? g : g.add_(w, l2);

    private static Tensor Table(BufferView v, int dim) => T(v, v.Length / dim, dim);

    private Tensor RowIndex(ReadOnlySpan<int> rows, BufferView w, int dim)
    {
        long tableRows = w.Length / dim;
        foreach (int r in rows)
            if (r < 0 || r >= tableRows) throw new ArgumentOutOfRangeException(nameof(rows), $"optimizer step: row {r} outside a table of {tableRows} rows");
        return Index(rows);
    }
}
