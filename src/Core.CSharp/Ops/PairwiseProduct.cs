using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Tensors;

namespace CtrDsl.Ops;

/// <summary>
/// Element-wise products of every field pair: a, b [batch; fields; dim] → y [batch; pairs; dim] with
/// y[p] = a_i ⊙ b_j for p enumerating i &lt; j in combinations order (as <see cref="PairwiseInner"/>).
/// With a = b (one node) it is AFM's pair-wise interaction layer; with a = e·W (a <see cref="Linear"/> over the
/// last axis) and b = e it is FiBiNET's field-all bilinear layer. Backward: da_i += Σ_j dy_p ⊙ b_j and
/// db_j += Σ_i dy_p ⊙ a_i; when a and b are one node the plan hands both halves the same gradient, which sums them.
/// </summary>
public sealed class PairwiseProduct : FieldInteraction
{
    public override string Name => "pairwise_product";
    public override int Arity => 2;

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var (fields, dim) = Fields(inputs[0]);
        ExpectFloat(inputs[1], "right embeddings");
        Expect(inputs[1].Shape == inputs[0].Shape, $"{inputs[0].Shape} (as the left operand)", inputs[1].Shape);
        return Shape.Batched(Pairs(fields), dim);
    }

    public override void Forward(IBackend b, NodeContext c) =>
        b.PairwiseProduct(c.Batch, c.Dim(0, 1), c.Dim(0, 2), c.In(0), c.In(1), c.Out);

    public override void Backward(IBackend b, NodeContext c) =>
        b.PairwiseProductBackward(c.Batch, c.Dim(0, 1), c.Dim(0, 2), c.In(0), c.In(1), c.DOut, c.DIn(0), c.DIn(1));
}
