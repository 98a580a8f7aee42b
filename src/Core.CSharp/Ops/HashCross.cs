using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Tensors;

namespace CtrDsl.Ops;

/// <summary>
/// Cross-product features (Wide &amp; Deep's AND(gender, language)): for each group of id fields, the tuple of their
/// ids hashed into one of <c>buckets</c> rows: ids [batch; fields] → [batch; groups] int32 in [0, buckets).
/// Two rows get the same crossed id exactly when they agree on every field of the group (up to hash collisions).
/// It has no gradient; an embedding of the crossed ids learns their weights. The hash is <see cref="HashCrossKernel"/>.
/// </summary>
public sealed class HashCross : Op
{
    public override bool BackwardReadsInput(int input) => false;
    public override bool BackwardReadsOutput => false;
    private readonly int[] _fields;   // the groups' field positions, concatenated
    private readonly int[] _starts;   // group g is _fields[_starts[g] .. _starts[g + 1])

    public HashCross(IReadOnlyList<int[]> groups, int buckets)
    {
        if (buckets < 1) throw new ArgumentOutOfRangeException(nameof(buckets), $"hash_cross: buckets must be ≥ 1, got {buckets}");
        if (groups.Count == 0 || groups.Any(g => g.Length < 2))
            throw new ArgumentException("hash_cross: every cross needs at least two fields");
        Buckets = buckets;
        _fields = groups.SelectMany(g => g).ToArray();
        _starts = new int[groups.Count + 1];
        for (int g = 0; g < groups.Count; g++) _starts[g + 1] = _starts[g] + groups[g].Length;
    }

    public int Buckets { get; }
    public int Groups => _starts.Length - 1;
    public override string Name => "hash_cross";
    public override int Arity => 1;
    public override DType OutputType => DType.Int32;
    public override string Attributes => $"groups={Groups}, buckets={Buckets}";

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var ids = inputs[0].Shape;
        ExpectInt(inputs[0], "ids");
        Expect(ids.IsBatched && ids.Rank == 2, "ids [batch; fields]", ids);
        foreach (var f in _fields)
            if (f < 0 || f >= ids[1]) throw new ShapeException($"cross field {f} is outside {ids}");
        return Shape.Batched(Groups);
    }

    public override void Forward(IBackend b, NodeContext c) =>
        b.HashCross(c.Batch, c.Dim(0, 1), _fields, _starts, Buckets, c.In(0), c.Out);

    // Ids carry no gradient.
    public override void Backward(IBackend b, NodeContext c) { }
}
