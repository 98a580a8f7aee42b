using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Tensors;

namespace CtrDsl.Ops;

/// <summary>
/// The outer product over fields of CIN (xDeepFM, Lian et al. 2018, eq. 6), per embedding dimension:
/// h [batch; rows; dim] and x0 [batch; fields; dim] → z [batch; rows·fields; dim] with
/// z[r·fields + i, d] = h[r, d]·x0[i, d]. A CIN layer is then Transpose(1, 2) to [batch; dim; rows·fields] and a
/// <see cref="Linear"/> over the last axis to the next layer's rows. The first layer passes x0 as both inputs.
/// Backward: dh_r += Σ_i dz_(r,i) ⊙ x0_i and dx0_i += Σ_r dz_(r,i) ⊙ h_r (summed by the plan when h = x0).
/// </summary>
public sealed class FieldOuter : Op
{
    public override bool BackwardReadsOutput => false;
    public override string Name => "field_outer";
    public override int Arity => 2;

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var h = inputs[0].Shape;
        var x0 = inputs[1].Shape;
        ExpectFloat(inputs[0], "hidden rows");
        ExpectFloat(inputs[1], "base embeddings");
        Expect(h.IsBatched && h.Rank == 3, "hidden rows [batch; rows; dim]", h);
        Expect(x0.IsBatched && x0.Rank == 3 && x0[2] == h[2], $"base embeddings [batch; fields; {h[2]}]", x0);
        return Shape.Batched(h[1] * x0[1], h[2]);
    }

    public override void Forward(IBackend b, NodeContext c) =>
        b.FieldOuter(c.Batch, c.Dim(0, 1), c.Dim(1, 1), c.Dim(0, 2), c.In(0), c.In(1), c.Out);

    public override void Backward(IBackend b, NodeContext c) =>
        b.FieldOuterBackward(c.Batch, c.Dim(0, 1), c.Dim(1, 1), c.Dim(0, 2), c.In(0), c.In(1), c.DOut, c.DIn(0), c.DIn(1));
}
