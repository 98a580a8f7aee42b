using CtrDsl.Backends;

namespace CtrDsl.OpenCl;

// The rows steps upload the touched row ids (O(batch), derived from the batch's ids) and leave weights, state and
// the summed row gradients where they are.
public sealed partial class OpenClBackend
{
    public void AdamStep(BufferView w, BufferView g, BufferView m, BufferView v, in AdamCoefficients c, float l2) =>
        Adam(K("adam").Buf(w).Buf(g).Buf(m).Buf(v), c).Float(l2).Run(w.Length);

    public void AdamRowsStep(int dim, ReadOnlySpan<int> rows, BufferView grads, BufferView w, BufferView m, BufferView v, in AdamCoefficients c, float l2)
    {
        if (rows.Length == 0 || dim == 0) return;
        Adam(K("adam_rows").Int(dim).Buf(Rows(rows)).Buf(grads).Buf(w).Buf(m).Buf(v), c).Float(l2).Run((long)rows.Length * dim);
    }

    private static KernelCall Adam(KernelCall k, in AdamCoefficients c) =>
        k.Float(c.Beta1).Float(c.Beta2).Float(c.Eps).Float(c.StepSize).Float(c.SqrtBiasCorrection2).Float(c.Decay);

    public void AdagradStep(BufferView w, BufferView g, BufferView sum, in AdagradCoefficients c, float l2) =>
        K("adagrad").Buf(w).Buf(g).Buf(sum).Float(c.LearningRate).Float(c.Eps).Float(l2).Run(w.Length);

    public void AdagradRowsStep(int dim, ReadOnlySpan<int> rows, BufferView grads, BufferView w, BufferView sum, in AdagradCoefficients c, float l2)
    {
        if (rows.Length == 0 || dim == 0) return;
        K("adagrad_rows").Int(dim).Buf(Rows(rows)).Buf(grads).Buf(w).Buf(sum).Float(c.LearningRate).Float(c.Eps).Float(l2).Run((long)rows.Length * dim);
    }

    public void SgdStep(BufferView w, BufferView g, BufferView momentum, in SgdCoefficients c, float l2) =>
        K("sgd").Buf(w).Buf(g).Buf(momentum).Int(momentum.IsEmpty ? 0 : 1).Float(c.LearningRate).Float(c.Momentum)
            .Int(c.Nesterov ? 1 : 0).Float(l2).Run(w.Length);

    public void SgdRowsStep(int dim, ReadOnlySpan<int> rows, BufferView grads, BufferView w, BufferView momentum, in SgdCoefficients c, float l2)
    {
        if (rows.Length == 0 || dim == 0) return;
        K("sgd_rows").Int(dim).Buf(Rows(rows)).Buf(grads).Buf(w).Buf(momentum).Int(momentum.IsEmpty ? 0 : 1).Float(c.LearningRate)
            .Float(c.Momentum).Int(c.Nesterov ? 1 : 0).Float(l2).Run((long)rows.Length * dim);
    }

    private OpenClBuffer? _rowsDev;

    private BufferView Rows(ReadOnlySpan<int> rows)
    {
        var b = Grow(ref _rowsDev, rows.Length, DType.Int32).All.Take(rows.Length);
        _rt.Write(rows, b);
        return b;
    }
}
