using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Tensors;

namespace CtrDsl.Ops;

/// <summary>
/// The field-aware pair term of FFM (Juan et al. 2016, eq. 3): x [batch; fields; fields·dim] holds, in field i's
/// row, one latent vector per field, v_(i,f) = x[b, i, f·dim … (f+1)·dim). Then y [batch; pairs] with
/// y[p] = ⟨v_(i,j), v_(j,i)⟩ for p enumerating i &lt; j in combinations order. An embedding table of width
/// fields·dim gives x directly. Backward: dv_(i,j) += dy_p·v_(j,i), dv_(j,i) += dy_p·v_(i,j); the blocks
/// v_(i,i) take no gradient.
/// </summary>
public sealed class FieldAwareInner : FieldInteraction
{
    public override string Name => "field_aware_inner";
    public override int Arity => 1;

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var (fields, width) = Fields(inputs[0]);
        Expect(fields > 0 && width % fields == 0, $"[batch; {fields}; {fields}·dim]", inputs[0].Shape);
        return Shape.Batched(Pairs(fields));
    }

    private static (int fields, int dim) View(NodeContext c)
    {
        int fields = c.Dim(0, 1);
        return (fields, c.Dim(0, 2) / fields);
    }

    public override void Forward(IBackend b, NodeContext c)
    {
        var (fields, dim) = View(c);
        b.FieldAwareInner(c.Batch, fields, dim, c.In(0), c.Out);
    }

    public override void Backward(IBackend b, NodeContext c)
    {
        var (fields, dim) = View(c);
        b.FieldAwareInnerBackward(c.Batch, fields, dim, c.In(0), c.DOut, c.DIn(0));
    }
}
