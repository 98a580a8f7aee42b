using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Tensors;

namespace CtrDsl.Ops;

/// <summary>
/// The valid positions of a padded sequence: ids [batch; maxLength] (−1 pads) → [batch; maxLength; 1] float, 1 where
/// an id is present and 0 on padding. Multiplied into per-position weights it makes DIN's activation weights exactly 0
/// on padding, and it tells a masked pooling which positions count. Ids carry no gradient.
/// </summary>
public sealed class SequenceMask : Op
{
    public override bool BackwardReadsInput(int input) => false;
    public override bool BackwardReadsOutput => false;
    public override string Name => "sequence_mask";
    public override int Arity => 1;

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var ids = inputs[0].Shape;
        ExpectInt(inputs[0], "ids");
        Expect(ids.IsBatched && ids.Rank == 2, "ids [batch; maxLength]", ids);
        return Shape.Batched(ids[1], 1);
    }

    public override void Forward(IBackend b, NodeContext c) => b.PaddingMask(c.Numel(0), c.In(0), c.Out);

    public override void Backward(IBackend b, NodeContext c) { }
}
