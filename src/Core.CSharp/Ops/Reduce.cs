using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Tensors;

namespace CtrDsl.Ops;

/// <summary>
/// Sum or mean over one non-batch axis, optionally keeping it as size 1. Viewing x as [outer; len; inner],
/// y[o, i] = scale·Σ_l x[o, l, i] with scale 1 (sum) or 1/len (mean); backward broadcasts dy·scale back.
/// </summary>
public abstract class AxisReduction(int axis, bool keepDim, bool mean) : Op
{
    public override bool BackwardReadsInput(int input) => false;
    public override bool BackwardReadsOutput => false;
    public int Axis => axis;
    public bool KeepDim => keepDim;
    public override int Arity => 1;
    public override string Attributes => $"axis={axis}{(keepDim ? ", keepdim" : "")}";

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var x = inputs[0].Shape;
        ExpectFloat(inputs[0], "input");
        int a = x.Axis(axis);
        if (x.IsBatched && a == 0) throw new ShapeException($"cannot reduce over the batch axis of {x}");
        var dims = x.ToArray().ToList();
        if (keepDim) dims[a] = 1; else dims.RemoveAt(a);
        return new Shape([.. dims]);
    }

    private (int outer, int len, int inner) View(NodeContext c)
    {
        var x = c.InShape(0);
        int a = x.Axis(axis);
        return (c.Product(0, 0, a), c.Dim(0, a), c.Product(0, a + 1, x.Rank));
    }

    private static float ScaleOf(bool mean, int len) => mean && len > 0 ? 1f / len : 1f;

    public override void Forward(IBackend b, NodeContext c)
    {
        var (o, l, i) = View(c);
        b.ReduceAxis(o, l, i, ScaleOf(mean, l), c.In(0), c.Out, accumulate: false);
    }

    public override void Backward(IBackend b, NodeContext c)
    {
        var (o, l, i) = View(c);
        b.BroadcastAxis(o, l, i, ScaleOf(mean, l), c.DOut, c.DIn(0));
    }
}

/// <summary>Σ over an axis.</summary>
public sealed class Sum(int axis, bool keepDim = false) : AxisReduction(axis, keepDim, mean: false)
{
    public override string Name => "sum";
}

/// <summary>Mean over an axis (an empty axis gives 0).</summary>
public sealed class Mean(int axis, bool keepDim = false) : AxisReduction(axis, keepDim, mean: true)
{
    public override string Name => "mean";
}
