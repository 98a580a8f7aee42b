using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Tensors;
using GemmOp = CtrDsl.Backends.Transpose;

namespace CtrDsl.Ops;

/// <summary>
/// A dense layer per field, without bias: x [batch; fields; in], W [fields; in; out] → y [batch; fields; out] with
/// y[b, f] = x[b, f]·W_f. FiBiNET's field-each bilinear layer is PairwiseProduct(FieldLinear(e, W), e); with one
/// W shared by every field use <see cref="Linear"/> over the last axis instead. It cannot be composed from Linear
/// (one W for all rows) or BatchedMatMul (no operand shared across the batch), so it is one strided batched GEMM
/// over the fields, each with the batch as its rows: A_f = x[·, f, ·] (lda fields·in), C_f = y[·, f, ·].
/// Backward: dx_f += dy_f·W_fᵀ and dW_f += x_fᵀ·dy_f, both batched the same way.
/// </summary>
public sealed class FieldLinear : Op
{
    public override bool BackwardReadsOutput => false;
    public override string Name => "field_linear";
    public override int Arity => 2;

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var x = inputs[0].Shape;
        var w = inputs[1].Shape;
        ExpectFloat(inputs[0], "input");
        Expect(x.IsBatched && x.Rank == 3, "[batch; fields; in]", x);
        Expect(!w.IsBatched && w.Rank == 3 && w[0] == x[1] && w[1] == x[2], $"weight [{x[1]}; {x[2]}; out]", w);
        return Shape.Batched(x[1], w[2]);
    }

    private static (int fields, int k, int n) View(NodeContext c) => (c.Dim(0, 1), c.Dim(0, 2), c.Dim(1, 2));

    public override void Forward(IBackend b, NodeContext c)
    {
        var (fields, k, n) = View(c);
        b.BatchedGemm(fields, GemmOp.No, GemmOp.No, c.Batch, n, k, 1f, c.In(0), fields * k, k, c.X[1], n, (long)k * n,
            0f, c.Out, fields * n, n);
    }

    public override void Backward(IBackend b, NodeContext c)
    {
        var (fields, k, n) = View(c);
        var dy = c.DOut;
        if (c.WantsGrad(0))
            b.BatchedGemm(fields, GemmOp.No, GemmOp.Yes, c.Batch, k, n, 1f, dy, fields * n, n, c.X[1], n, (long)k * n,
                1f, c.DIn(0), fields * k, k);
        if (c.WantsGrad(1))
            b.BatchedGemm(fields, GemmOp.Yes, GemmOp.No, k, n, c.Batch, 1f, c.In(0), fields * k, k, dy, fields * n, n,
                1f, c.DX[1], n, (long)k * n);
    }
}
