using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Tensors;

namespace CtrDsl.Ops;

/// <summary>Which field of a pair p = (i &lt; j) <see cref="PairRows"/> reads: x_i or x_j.</summary>
public enum PairSide { Left, Right }

/// <summary>
/// One side of every field pair, gathered: x [batch; fields; dim] → y [batch; pairs; dim] with y[p] = x_i
/// (<see cref="PairSide.Left"/>) or x_j (<see cref="PairSide.Right"/>) for p enumerating i &lt; j in combinations
/// order. It lets a per-pair transform run before the product: FiBiNET's field-interaction bilinear layer
/// p_ij = (v_i·W_ij) ⊙ v_j is Mul(FieldLinear(PairRows(Left)(e), W [pairs; dim; dim]), PairRows(Right)(e)).
/// (<see cref="PairwiseProduct"/> equals Mul of the two sides; it stays a fused op because it saves two
/// [batch; pairs; dim] buffers.) Backward: each dy_p is added to the field row it was read from.
/// </summary>
public sealed class PairRows(PairSide side) : FieldInteraction
{
    public override bool BackwardReadsInput(int input) => false;
    public PairSide Side => side;
    public override string Name => "pair_rows";
    public override int Arity => 1;
    public override string Attributes => $"side={side}";

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var (fields, dim) = Fields(inputs[0]);
        return Shape.Batched(Pairs(fields), dim);
    }

    public override void Forward(IBackend b, NodeContext c) =>
        b.PairRows(c.Batch, c.Dim(0, 1), c.Dim(0, 2), side == PairSide.Right, c.In(0), c.Out);

    public override void Backward(IBackend b, NodeContext c) =>
        b.PairRowsBackward(c.Batch, c.Dim(0, 1), c.Dim(0, 2), side == PairSide.Right, c.DOut, c.DIn(0));
}
