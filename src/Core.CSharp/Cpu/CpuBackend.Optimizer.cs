using System.Numerics.Tensors;
using CtrDsl.Backends;
using CtrDsl.Optim;

namespace CtrDsl.Cpu;

// The optimizer steps on the CPU are the host optimizers' own span kernels, so a DeviceOptimizer on the CPU backend
// moves every weight exactly as Adam, Adagrad or Sgd do.
public sealed partial class CpuBackend
{
    public void AdamStep(BufferView w, BufferView g, BufferView m, BufferView v, in AdamCoefficients c, float l2)
    {
        AddL2(F(w), F(g), l2);
        AdamKernel.Update(F(w), F(g), F(m), F(v), c);
    }

    public void AdamRowsStep(int dim, ReadOnlySpan<int> rows, BufferView grads, BufferView w, BufferView m, BufferView v, in AdamCoefficients c, float l2)
    {
        var ws = F(w); var ms = F(m); var vs = F(v); var gs = F(grads);
        for (int s = 0; s < rows.Length; s++)
        {
            int start = RowStart(rows[s], dim, ws.Length);
            var gr = gs.Slice(s * dim, dim);
            AddL2(ws.Slice(start, dim), gr, l2);
            AdamKernel.Update(ws.Slice(start, dim), gr, ms.Slice(start, dim), vs.Slice(start, dim), c);
        }
    }

    public void AdagradStep(BufferView w, BufferView g, BufferView sum, in AdagradCoefficients c, float l2)
    {
        AddL2(F(w), F(g), l2);
        AdagradKernel.Update(F(w), F(g), F(sum), c);
    }

    public void AdagradRowsStep(int dim, ReadOnlySpan<int> rows, BufferView grads, BufferView w, BufferView sum, in AdagradCoefficients c, float l2)
    {
        var ws = F(w); var ss = F(sum); var gs = F(grads);
        for (int s = 0; s < rows.Length; s++)
        {
            int start = RowStart(rows[s], dim, ws.Length);
            var gr = gs.Slice(s * dim, dim);
            AddL2(ws.Slice(start, dim), gr, l2);
            AdagradKernel.Update(ws.Slice(start, dim), gr, ss.Slice(start, dim), c);
        }
    }

    public void SgdStep(BufferView w, BufferView g, BufferView momentum, in SgdCoefficients c, float l2)
    {
        AddL2(F(w), F(g), l2);
        if (momentum.IsEmpty) SgdKernel.Update(F(w), F(g), c.LearningRate);
        else SgdKernel.Update(F(w), F(g), F(momentum), c);
    }

    public void SgdRowsStep(int dim, ReadOnlySpan<int> rows, BufferView grads, BufferView w, BufferView momentum, in SgdCoefficients c, float l2)
    {
        var ws = F(w); var bs = F(momentum); var gs = F(grads);
        for (int s = 0; s < rows.Length; s++)
        {
            int start = RowStart(rows[s], dim, ws.Length);
            var gr = gs.Slice(s * dim, dim);
            AddL2(ws.Slice(start, dim), gr, l2);
            if (momentum.IsEmpty) SgdKernel.Update(ws.Slice(start, dim), gr, c.LearningRate);
            else SgdKernel.Update(ws.Slice(start, dim), gr, bs.Slice(start, dim), c);
        }
    }

    private static void AddL2(ReadOnlySpan<float> w, Span<float> g, float l2)
    {
        if (l2 != 0f) TensorPrimitives.MultiplyAdd(w, l2, g, g);
    }

    private static int RowStart(int row, int dim, int length)
    {
        if (row < 0 || (long)(row + 1) * dim > length) ThrowRow(row, dim, length);
        return row * dim;
    }

    private static void ThrowRow(int row, int dim, int length) =>
        throw new ArgumentOutOfRangeException(nameof(row), $"optimizer step: row {row} outside a table of {length / Math.Max(dim, 1)} rows");
}
