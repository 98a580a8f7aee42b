using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Tensors;

namespace CtrDsl.Ops;

/// <summary>
/// A padded sequence of vectors pooled over its valid positions: x [batch; len; k] and the sequence's ids
/// [batch; len] (−1 pads) → y [batch; k]. Sum: Σ over valid t of x_t. Mean: that sum ÷ the count of valid positions.
/// Max: the largest x_t,i over valid t, so padding never wins whatever its value. A row with no valid position gives 0
/// in all three. Backward: dy to every valid position (÷ count for mean), or to the first valid position that holds
/// the maximum. A primitive because max over valid positions cannot be composed from the existing ops without a
/// large finite penalty (which lets a padded value win once x exceeds it); sum and mean share the one kernel.
/// </summary>
public sealed class MaskedPool(SequencePooling pooling) : Op
{
    public SequencePooling Pooling => pooling;
    public override string Name => "masked_pool";
    public override string Attributes => pooling.ToString().ToLowerInvariant();
    public override int Arity => 2;
    public override bool BackwardReadsOutput => false;
    public override bool BackwardReadsInput(int input) => input == 1 || pooling == SequencePooling.Max;

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var x = inputs[0].Shape;
        var ids = inputs[1].Shape;
        ExpectFloat(inputs[0], "sequence");
        ExpectInt(inputs[1], "ids");
        Expect(x.IsBatched && x.Rank == 3, "sequence [batch; len; k]", x);
        Expect(ids.IsBatched && ids.Rank == 2 && ids[1] == x[1], $"ids [batch; {x[1]}]", ids);
        return Shape.Batched(x[2]);
    }

    public override void Forward(IBackend b, NodeContext c) =>
        b.MaskedPool(c.Batch, c.Dim(0, 1), c.Dim(0, 2), pooling, c.In(0), c.In(1), c.Out);

    public override void Backward(IBackend b, NodeContext c)
    {
        if (c.DIn(0).IsEmpty) return;
        b.MaskedPoolBackward(c.Batch, c.Dim(0, 1), c.Dim(0, 2), pooling, c.In(0), c.In(1), c.DOut, c.DIn(0));
    }
}
