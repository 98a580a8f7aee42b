using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Tensors;

namespace CtrDsl.Ops;

/// <summary>
/// Looks up one row per field: ids [batch; fields] into table [rows; dim] gives [batch; fields; dim].
/// Ids are global rows (each field's offset already applied by the data layer). A sparse table receives a
/// row-sparse gradient (duplicates summed); a dense one a dense gradient.
/// </summary>
public sealed class Embedding : Op
{
    public override bool BackwardReadsOutput => false;
    public override string Name => "embedding";
    public override int Arity => 2;
    public override bool AcceptsSparse(int input) => input == 1;

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var ids = inputs[0].Shape;
        var table = inputs[1].Shape;
        ExpectInt(inputs[0], "ids");
        Expect(ids.IsBatched && ids.Rank == 2, "ids [batch; fields]", ids);
        Expect(!table.IsBatched && table.Rank == 2, "table [rows; dim]", table);
        return Shape.Batched(ids[1], table[1]);
    }

    public override void Forward(IBackend b, NodeContext c) =>
        b.EmbeddingPool(c.Numel(0), 1, c.Dim(1, 1), Pooling.Sum, c.In(0), c.X[1], c.Out);

    public override void Backward(IBackend b, NodeContext c)
    {
        if (c.Sparse[1] is { } acc) b.EmbeddingPoolBackward(c.Numel(0), 1, c.Dim(1, 1), Pooling.Sum, c.In(0), c.DOut, acc);
        else if (!c.DX[1].IsEmpty) b.EmbeddingPoolBackward(c.Numel(0), 1, c.Dim(1, 1), Pooling.Sum, c.In(0), c.DOut, c.DX[1]);
    }
}

/// <summary>
/// Pools a multi-valued field: ids [batch; maxLength] padded with −1 into table [rows; dim] gives [batch; dim],
/// the sum or the mean of the rows present (a row with no ids gives zeros).
/// </summary>
public sealed class EmbeddingBag(Pooling pooling) : Op
{
    public override bool BackwardReadsOutput => false;
    public Pooling Pooling => pooling;
    public override string Name => "embedding_bag";
    public override int Arity => 2;
    public override bool AcceptsSparse(int input) => input == 1;
    public override string Attributes => $"pooling={pooling}";

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var ids = inputs[0].Shape;
        var table = inputs[1].Shape;
        ExpectInt(inputs[0], "ids");
        Expect(ids.IsBatched && ids.Rank == 2, "ids [batch; maxLength]", ids);
        Expect(!table.IsBatched && table.Rank == 2, "table [rows; dim]", table);
        return Shape.Batched(table[1]);
    }

    public override void Forward(IBackend b, NodeContext c) =>
        b.EmbeddingPool(c.Batch, c.Dim(0, 1), c.Dim(1, 1), pooling, c.In(0), c.X[1], c.Out);

    public override void Backward(IBackend b, NodeContext c)
    {
        if (c.Sparse[1] is { } acc) b.EmbeddingPoolBackward(c.Batch, c.Dim(0, 1), c.Dim(1, 1), pooling, c.In(0), c.DOut, acc);
        else if (!c.DX[1].IsEmpty) b.EmbeddingPoolBackward(c.Batch, c.Dim(0, 1), c.Dim(1, 1), pooling, c.In(0), c.DOut, c.DX[1]);
    }
}
