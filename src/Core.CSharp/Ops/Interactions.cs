using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Tensors;

namespace CtrDsl.Ops;

/// <summary>Shared shape rule of the field-interaction ops: x is [batch; fields; dim].</summary>
public abstract class FieldInteraction : Op
{
    public override bool BackwardReadsOutput => false;
    protected static (int fields, int dim) Fields(Node x)
    {
        ExpectFloat(x, "embeddings");
        var s = x.Shape;
        Expect(s.IsBatched && s.Rank == 3, "[batch; fields; dim]", s);
        return (s[1], s[2]);
    }

    /// <summary>Number of field pairs i &lt; j.</summary>
    public static int Pairs(int fields) => fields * (fields - 1) / 2;
}

/// <summary>
/// The bi-interaction pooling of FM and NFM: y[b, k] = ½[(Σ_f x_f,k)² − Σ_f x_f,k²], which equals
/// Σ_{i&lt;j} x_i,k·x_j,k. Summing y over k gives the FM second-order term. Backward: dx_f,k = dy_k·(Σ_g x_g,k − x_f,k).
/// </summary>
public sealed class BiInteraction : FieldInteraction
{
    public override string Name => "bi_interaction";
    public override int Arity => 1;

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var (_, dim) = Fields(inputs[0]);
        return Shape.Batched(dim);
    }

    public override void Forward(IBackend b, NodeContext c) => b.BiInteraction(c.Batch, c.Dim(0, 1), c.Dim(0, 2), c.In(0), c.Out);

    public override void Backward(IBackend b, NodeContext c) =>
        b.BiInteractionBackward(c.Batch, c.Dim(0, 1), c.Dim(0, 2), c.In(0), c.DOut, c.DIn(0));
}

/// <summary>
/// Inner products of every field pair (IPNN): y[b, p] = ⟨x_i, x_j⟩ for p enumerating i &lt; j in combinations
/// order (0,1), (0,2), …, (1,2), …
/// </summary>
public sealed class PairwiseInner : FieldInteraction
{
    public override string Name => "pairwise_inner";
    public override int Arity => 1;

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var (fields, _) = Fields(inputs[0]);
        return Shape.Batched(Pairs(fields));
    }

    public override void Forward(IBackend b, NodeContext c) => b.PairwiseInner(c.Batch, c.Dim(0, 1), c.Dim(0, 2), c.In(0), c.Out);

    public override void Backward(IBackend b, NodeContext c) =>
        b.PairwiseInnerBackward(c.Batch, c.Dim(0, 1), c.Dim(0, 2), c.In(0), c.DOut, c.DIn(0));
}

/// <summary>
/// The field-pair bilinear form of FEFM (Pande 2020): y[b, p] = x_iᵀ (U_p + U_pᵀ) x_j for p enumerating i &lt; j,
/// with U [pairs; dim; dim]. W_p = U_p + U_pᵀ is symmetric by construction.
/// Backward: dx_i += W_p x_j·dy, dx_j += W_p x_i·dy, dU_p += dy·(x_i x_jᵀ + x_j x_iᵀ).
/// </summary>
public sealed class Fefm : FieldInteraction
{
    public override string Name => "fefm";
    public override int Arity => 2;

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var (fields, dim) = Fields(inputs[0]);
        var u = inputs[1].Shape;
        Expect(u == new Shape(Pairs(fields), dim, dim), $"field-pair matrices [{Pairs(fields)}; {dim}; {dim}]", u);
        return Shape.Batched(Pairs(fields));
    }

    public override void Forward(IBackend b, NodeContext c) => b.Fefm(c.Batch, c.Dim(0, 1), c.Dim(0, 2), c.In(0), c.X[1], c.Out);

    public override void Backward(IBackend b, NodeContext c) =>
        b.FefmBackward(c.Batch, c.Dim(0, 1), c.Dim(0, 2), c.In(0), c.X[1], c.DOut, c.DIn(0), c.DX[1]);
}
