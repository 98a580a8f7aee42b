using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Tensors;

namespace CtrDsl.Ops;

/// <summary>
/// broadcast_to along one axis: a non-batch axis of size 1 repeated <c>n</c> times, e.g. [batch; f; 1] →
/// [batch; f; n]. Viewing y as [outer; n; inner], y[o, l, i] = x[o, i]; backward sums over the repeats,
/// dx[o, i] += Σ_l dy[o, l, i]. With <see cref="Mul"/> this gives SENET's field re-weighting, DCN's x0·(xᵀw) and
/// AFM's attention weighting. It composes the broadcast and reduce kernels, so it needs none of its own.
/// </summary>
public sealed class Expand(int axis, int n) : Op
{
    public override bool BackwardReadsInput(int input) => false;
    public override bool BackwardReadsOutput => false;
    public int Axis => axis;
    public int Size => n;
    public override string Name => "expand";
    public override int Arity => 1;
    public override string Attributes => $"axis={axis}, n={n}";

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var x = inputs[0].Shape;
        ExpectFloat(inputs[0], "input");
        int a = x.Axis(axis);
        if (x.IsBatched && a == 0) throw new ShapeException($"cannot expand the batch axis of {x}");
        var dims = x.ToArray();
        dims[a] = n;
        Expect(x[a] == 1 && n >= 0, $"size 1 on axis {a} (to expand to {new Shape(dims)})", x);
        return new Shape(dims);
    }

    private (int outer, int inner) View(NodeContext c)
    {
        var x = c.InShape(0);
        int a = x.Axis(axis);
        return (c.Product(0, 0, a), c.Product(0, a + 1, x.Rank));
    }

    public override void Forward(IBackend b, NodeContext c)
    {
        var (outer, inner) = View(c);
        b.Fill(c.Out, 0f);
        b.BroadcastAxis(outer, n, inner, 1f, c.In(0), c.Out);
    }

    public override void Backward(IBackend b, NodeContext c)
    {
        var (outer, inner) = View(c);
        b.ReduceAxis(outer, n, inner, 1f, c.DOut, c.DIn(0), accumulate: true);
    }
}
