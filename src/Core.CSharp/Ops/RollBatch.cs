using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Tensors;

namespace CtrDsl.Ops;

/// <summary>
/// The rows present, each replaced by the next one: y[b] = x[(b + 1) mod batch]; backward dx[(b + 1) mod batch] += dy[b].
/// DIEN's auxiliary loss draws a row's negative behaviours from another row of the batch this way (another user's
/// behaviour at the same depth), so the sample is fixed by the batch's order and needs no random state. Two block
/// copies, so every backend that copies rows runs it. A row's output depends on another row: use it in losses only.
/// </summary>
public sealed class RollBatch : Op
{
    public override string Name => "roll_batch";
    public override int Arity => 1;
    public override bool BackwardReadsInput(int input) => false;
    public override bool BackwardReadsOutput => false;

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        ExpectFloat(inputs[0], "input");
        Expect(inputs[0].Shape.IsBatched, "a batched input", inputs[0].Shape);
        return inputs[0].Shape;
    }

    public override void Forward(IBackend b, NodeContext c) => Roll(b, c.Batch, c.In(0), c.Out, accumulate: false, back: false);

    public override void Backward(IBackend b, NodeContext c)
    {
        if (!c.DIn(0).IsEmpty) Roll(b, c.Batch, c.DOut, c.DIn(0), accumulate: true, back: true);
    }

    /// <summary>Forward: y[0 .. n−1) = x[1 .. n), y[n−1] = x[0]. Back: the inverse, dx[1 .. n) += dy[0 .. n−1), dx[0] += dy[n−1].</summary>
    private static void Roll(IBackend b, int rows, BufferView from, BufferView to, bool accumulate, bool back)
    {
        if (rows == 0) return;
        int w = checked((int)(from.Length / rows));
        long rest = (long)(rows - 1) * w;
        // The pairs (row b + 1 of x, row b of y) and (row 0 of x, row n − 1 of y); backward copies each the other way.
        var (ahead, first) = (from.Slice(back ? 0 : w, rest), from.Slice(back ? rest : 0, w));
        b.CopyRows(rows - 1, w, ahead, w, to.Slice(back ? w : 0, rest), w, accumulate);
        b.CopyRows(1, w, first, w, to.Slice(back ? 0 : rest, w), w, accumulate);
    }
}
