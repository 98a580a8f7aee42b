using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Tensors;

namespace CtrDsl.Ops;

/// <summary>
/// Outer products of every field pair (OPNN, Qu et al. 2016): x [batch; fields; dim] → y [batch; pairs; dim; dim]
/// with y[p] = x_i x_jᵀ for p enumerating i &lt; j in combinations order. Backward: dx_i += dy_p·x_j and
/// dx_j += dy_pᵀ·x_i.
/// The paper's cheaper superposition form, p = f_Σ f_Σᵀ with f_Σ = Σ_i x_i, needs no op of its own: it is
/// s = Sum(1, keepDim) [batch; 1; dim], then BatchedMatMul(transposeA: true) of s with itself → [batch; dim; dim].
/// </summary>
public sealed class PairwiseOuter : FieldInteraction
{
    public override string Name => "pairwise_outer";
    public override int Arity => 1;

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var (fields, dim) = Fields(inputs[0]);
        return Shape.Batched(Pairs(fields), dim, dim);
    }

    public override void Forward(IBackend b, NodeContext c) => b.PairwiseOuter(c.Batch, c.Dim(0, 1), c.Dim(0, 2), c.In(0), c.Out);

    public override void Backward(IBackend b, NodeContext c) =>
        b.PairwiseOuterBackward(c.Batch, c.Dim(0, 1), c.Dim(0, 2), c.In(0), c.DOut, c.DIn(0));
}
