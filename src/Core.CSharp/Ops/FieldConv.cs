using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Tensors;

namespace CtrDsl.Ops;

/// <summary>
/// Convolution along the field axis with a (h, 1) kernel and 'same' padding (FGCNN, Liu 2019):
/// x [batch; cin; fields; dim], w [cout; cin; h], bias [cout] → y [batch; cout; fields; dim], with
/// y[b,o,f,k] = bias_o + Σ_c Σ_t w[o,c,t]·x[b,c,f+t−top,k], top = (h−1)/2, rows outside the fields being zero.
/// </summary>
public sealed class FieldConv : Op
{
    public override bool BackwardReadsOutput => false;
    public override string Name => "field_conv";
    public override int Arity => 3;

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var x = inputs[0].Shape;
        var w = inputs[1].Shape;
        ExpectFloat(inputs[0], "input");
        Expect(x.IsBatched && x.Rank == 4, "[batch; channels; fields; dim]", x);
        Expect(!w.IsBatched && w.Rank == 3 && w[1] == x[1] && w[2] >= 1, $"weight [cout; {x[1]}; h]", w);
        Expect(inputs[2].Shape == new Shape(w[0]), $"bias [{w[0]}]", inputs[2].Shape);
        return Shape.Batched(w[0], x[2], x[3]);
    }

    public override void Forward(IBackend b, NodeContext c) =>
        b.FieldConv(c.Batch, c.Dim(0, 1), c.Dim(1, 0), c.Dim(0, 2), c.Dim(0, 3), c.Dim(1, 2), c.In(0), c.X[1], c.X[2], c.Out);

    /// <summary>The input's gradient may be written over; the weight's and bias's are added to.</summary>
    public override bool CanOverwriteGrad(int input) => input == 0;

    public override void Backward(IBackend b, NodeContext c) =>
        b.FieldConvBackward(c.Batch, c.Dim(0, 1), c.Dim(1, 0), c.Dim(0, 2), c.Dim(0, 3), c.Dim(1, 2), c.In(0), c.X[1],
            c.DOut, c.DIn(0), c.DX[1], c.DX[2], accumulateDx: !c.Overwrite[0]);
}

/// <summary>
/// Max-pooling (p, 1) along the field axis: [batch; c; fields; dim] → [batch; c; out; dim], out = ⌊fields/p⌋
/// (floor, PyTorch's default) or ⌈fields/p⌉ (ceil, the last window holding the rows that remain). The gradient goes
/// to the arg-max row of each window: the first row t with x[t] = y (on ties the earliest row, −0 and +0 counting as
/// equal), or the first NaN row when the window holds a NaN (y is then NaN). Backward finds that row again from x and
/// y, so no arg-max is kept between the passes.
/// </summary>
public sealed class FieldMaxPool(int p, PoolRounding rounding = PoolRounding.Floor) : Op
{
    public override bool BackwardReadsInput(int input) => true; // the arg-max is recomputed from x and y
    public override bool BackwardReadsOutput => true;
    public int Window => p;
    public PoolRounding Rounding => rounding;
    public override string Name => "field_max_pool";
    public override int Arity => 1;
    public override string Attributes => $"p={p}, {rounding.ToString().ToLowerInvariant()}";

    /// <summary>Rows after pooling <paramref name="fields"/> rows.</summary>
    public static int OutFields(int fields, int p, PoolRounding rounding) =>
        rounding == PoolRounding.Floor ? fields / p : (fields + p - 1) / p;

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var x = inputs[0].Shape;
        ExpectFloat(inputs[0], "input");
        Expect(x.IsBatched && x.Rank == 4, "[batch; channels; fields; dim]", x);
        if (p < 1) throw new ShapeException($"pool size must be ≥ 1, got {p}");
        int outFields = OutFields(x[2], p, rounding);
        if (outFields < 1)
            throw new ShapeException($"too few fields for pooling: {x[2]} fields with pool size {p} ({rounding.ToString().ToLowerInvariant()}) leaves none, in {x}");
        return Shape.Batched(x[1], outFields, x[3]);
    }

    public override void Forward(IBackend b, NodeContext c) =>
        b.FieldMaxPool(c.Batch, c.Dim(0, 1), c.Dim(0, 2), c.Dim(0, 3), p, c.OutShape[2], c.In(0), c.Out);

    public override bool CanOverwriteGrad(int input) => true;

    public override void Backward(IBackend b, NodeContext c) =>
        b.FieldMaxPoolBackward(c.Batch, c.Dim(0, 1), c.Dim(0, 2), c.Dim(0, 3), p, c.OutShape[2], c.In(0), c.Out, c.DOut, c.DIn(0),
            accumulate: !c.Overwrite[0]);
}
