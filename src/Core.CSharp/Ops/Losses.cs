using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Tensors;

namespace CtrDsl.Ops;

/// <summary>Shared shape rule of the losses: predictions [batch] or [batch; 1], targets [batch] → a scalar [1].</summary>
public abstract class LossOp : Op
{
    public override bool BackwardReadsOutput => false;
    public override int Arity => 2;

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var p = inputs[0].Shape;
        var t = inputs[1].Shape;
        ExpectFloat(inputs[0], "predictions");
        ExpectFloat(inputs[1], "targets");
        Expect(p.IsBatched && p.SampleSize == 1 && p.Rank <= 2, "predictions [batch] or [batch; 1]", p);
        Expect(t.IsBatched && t.SampleSize == 1 && t.Rank <= 2, "targets [batch]", t);
        return new Shape(1);
    }
}

/// <summary>
/// Binary cross-entropy from logits, the mean over the rows present: ℓ = max(z,0) − y·z + log1p(e^−|z|), which
/// never overflows; ∂ℓ/∂z = (σ(z) − y)/n.
/// </summary>
public sealed class BceWithLogits : LossOp
{
    public override string Name => "bce_with_logits";
    public override void Forward(IBackend b, NodeContext c) => b.BceWithLogits(c.Batch, c.In(0), c.In(1), c.Out);
    public override void Backward(IBackend b, NodeContext c) => b.BceWithLogitsBackward(c.Batch, c.In(0), c.In(1), c.DOut, c.DIn(0));
}

/// <summary>Mean squared error over the rows present: ℓ = Σ(p − t)²/n; ∂ℓ/∂p = 2(p − t)/n.</summary>
public sealed class Mse : LossOp
{
    public override string Name => "mse";
    public override void Forward(IBackend b, NodeContext c) => b.Mse(c.Batch, c.In(0), c.In(1), c.Out);
    public override void Backward(IBackend b, NodeContext c) => b.MseBackward(c.Batch, c.In(0), c.In(1), c.DOut, c.DIn(0));
}

/// <summary>
/// Binary cross-entropy from logits against one fixed label, weighted by a mask: logits and mask of one batched
/// shape (e.g. [batch; positions; 1]) → ℓ = Σ m·bce(z, label) / max(1, Σ m) over the rows present, the mean over the
/// valid positions when m is 1 there and 0 on padding; ∂ℓ/∂z = m·(σ(z) − label)/max(1, Σ m). The mask takes no
/// gradient. DIEN's auxiliary loss: label 1 for the next behaviour, 0 for the sampled negative.
/// </summary>
public sealed class MaskedBceWithLogits(float label) : Op
{
    public float Label => label;
    public override string Name => "masked_bce_with_logits";
    public override string Attributes => $"label={label}";
    public override int Arity => 2;
    public override bool BackwardReadsOutput => false;

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        ExpectFloat(inputs[0], "logits");
        ExpectFloat(inputs[1], "mask");
        Expect(inputs[0].Shape.IsBatched, "batched logits", inputs[0].Shape);
        Expect(inputs[1].Shape == inputs[0].Shape, $"a mask of the logits' shape {inputs[0].Shape}", inputs[1].Shape);
        return new Shape(1);
    }

    public override void Forward(IBackend b, NodeContext c) => b.MaskedBceWithLogits(c.Numel(0), label, c.In(0), c.In(1), c.Out);

    public override void Backward(IBackend b, NodeContext c) =>
        b.MaskedBceWithLogitsBackward(c.Numel(0), label, c.In(0), c.In(1), c.DOut, c.DIn(0));
}
