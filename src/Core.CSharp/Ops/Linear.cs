using CtrDsl.Backends;
using GemmOp = CtrDsl.Cpu.Transpose;
using CtrDsl.Cpu;
using CtrDsl.Graph;
using CtrDsl.Tensors;

namespace CtrDsl.Ops;

/// <summary>
/// y = x·W + b with x [batch; in], W [in; out], b [out] (optional third input).
/// Backward: dx += dy·Wᵀ, dW += xᵀ·dy, db += Σ_batch dy. The bias rides in the GEMM epilogue.
/// </summary>
public sealed class Linear(bool hasBias = true) : Op
{
    public override string Name => "linear";
    public override int Arity => hasBias ? 3 : 2;
    public bool HasBias => hasBias;

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var x = inputs[0].Shape;
        var w = inputs[1].Shape;
        ExpectFloat(inputs[0], "input");
        Expect(x.IsBatched && x.Rank == 2, "[batch; n]", x);
        Expect(!w.IsBatched && w.Rank == 2 && w[0] == x[1], $"weight [{x[1]}; out]", w);
        if (hasBias) Expect(inputs[2].Shape == new Shape(w[1]), $"bias [{w[1]}]", inputs[2].Shape);
        return Shape.Batched(w[1]);
    }

    public override void Forward(IBackend b, NodeContext c)
    {
        int m = c.Batch, k = c.Dim(0, 1), n = c.Dim(1, 1);
        b.Gemm(GemmOp.No, GemmOp.No, m, n, k, 1f, c.In(0), k, c.X[1], n, 0f, c.Out, n,
            hasBias ? c.X[2] : default, hasBias ? GemmEpilogue.Bias : GemmEpilogue.None);
    }

    public override void Backward(IBackend b, NodeContext c)
    {
        int m = c.Batch, k = c.Dim(0, 1), n = c.Dim(1, 1);
        var dy = c.DOut;
        if (c.WantsGrad(0)) b.Gemm(GemmOp.No, GemmOp.Yes, m, k, n, 1f, dy, n, c.X[1], n, 1f, c.DIn(0), k);
        if (c.WantsGrad(1)) b.Gemm(GemmOp.Yes, GemmOp.No, k, n, m, 1f, c.In(0), k, dy, n, 1f, c.DX[1], n);
        if (hasBias && c.WantsGrad(2)) b.ReduceAxis(1, m, n, 1f, dy, c.DX[2], accumulate: true);
    }
}
