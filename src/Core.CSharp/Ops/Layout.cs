using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Tensors;

namespace CtrDsl.Ops;

/// <summary>
/// Concatenation along an axis. Every input has the same dimensions except that axis. Viewed as
/// [outer; len_i·inner], each input is a block of columns of the output; backward copies the blocks back.
/// </summary>
public sealed class Concat(int axis) : Op
{
    public override bool BackwardReadsInput(int input) => false;
    public override bool BackwardReadsOutput => false;
    public int Axis => axis;
    public override string Name => "concat";
    public override int Arity => -1;
    public override string Attributes => $"axis={axis}";

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        if (inputs.Count == 0) throw new ShapeException("expected at least one input, got none");
        var first = inputs[0].Shape;
        int a = first.Axis(axis);
        if (first.IsBatched && a == 0) throw new ShapeException($"cannot concatenate along the batch axis of {first}");
        int total = 0;
        foreach (var n in inputs)
        {
            ExpectFloat(n, "input");
            var s = n.Shape;
            bool same = s.Rank == first.Rank;
            for (int d = 0; same && d < s.Rank; d++) same = d == a || s[d] == first[d];
            Expect(same, $"{first} apart from axis {a}", s);
            total += s[a];
        }
        var dims = first.ToArray();
        dims[a] = total;
        return new Shape(dims);
    }

    private void Blocks(IBackend b, NodeContext c, bool backward)
    {
        int a = c.OutShape.Axis(axis);
        int outer = checked((int)c.OutShape.Product(0, a, c.Batch));
        int inner = checked((int)c.OutShape.Product(a + 1, c.OutShape.Rank, c.Batch));
        int outWidth = c.OutShape[a] * inner;
        int offset = 0;
        for (int i = 0; i < c.X.Length; i++)
        {
            int width = c.InShape(i)[a] * inner;
            var block = (backward ? c.DOut : c.Out).Slice(offset, c.OutNumel - offset);
            if (!backward) b.CopyRows(outer, width, c.In(i), width, block, outWidth, accumulate: false);
            else if (!c.DX[i].IsEmpty) b.CopyRows(outer, width, block, outWidth, c.DIn(i), width, accumulate: true);
            offset += width;
        }
    }

    public override void Forward(IBackend b, NodeContext c) => Blocks(b, c, backward: false);
    public override void Backward(IBackend b, NodeContext c) => Blocks(b, c, backward: true);
}

/// <summary>
/// A window [start, start+length) of one non-batch axis. Backward adds dy into that window of dx.
/// </summary>
public sealed class Slice(int axis, int start, int length) : Op
{
    public override bool BackwardReadsInput(int input) => false;
    public override bool BackwardReadsOutput => false;
    public int Axis => axis;
    public int Start => start;
    public int Length => length;
    public override string Name => "slice";
    public override int Arity => 1;
    public override string Attributes => $"axis={axis}, start={start}, length={length}";

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var x = inputs[0].Shape;
        ExpectFloat(inputs[0], "input");
        int a = x.Axis(axis);
        if (x.IsBatched && a == 0) throw new ShapeException($"cannot slice the batch axis of {x}");
        Expect(start >= 0 && length >= 0 && start + length <= x[a], $"a window [{start}, {start + length}) inside axis {a}", x);
        var dims = x.ToArray();
        dims[a] = length;
        return new Shape(dims);
    }

    private (int outer, int width, int stride, int offset) View(NodeContext c)
    {
        var x = c.InShape(0);
        int a = x.Axis(axis);
        int inner = c.Product(0, a + 1, x.Rank);
        return (c.Product(0, 0, a), length * inner, x[a] * inner, start * inner);
    }

    public override void Forward(IBackend b, NodeContext c)
    {
        var (outer, width, stride, offset) = View(c);
        var x = c.In(0);
        b.CopyRows(outer, width, x.Slice(offset, x.Length - offset), stride, c.Out, width, accumulate: false);
    }

    public override void Backward(IBackend b, NodeContext c)
    {
        var (outer, width, stride, offset) = View(c);
        var dx = c.DIn(0);
        b.CopyRows(outer, width, c.DOut, width, dx.Slice(offset, dx.Length - offset), stride, accumulate: true);
    }
}

/// <summary>
/// The same values seen with other trailing dimensions (the batch stays first). The output shares the input's
/// buffer and gradient, so it costs nothing. <see cref="Flatten"/> is the common case.
/// </summary>
public sealed class Reshape(params int[] trailing) : Op
{
    public override bool BackwardReadsInput(int input) => false;
    public override bool BackwardReadsOutput => false;
    /// <summary>The dimensions after the batch axis (all of them for an unbatched input).</summary>
    public IReadOnlyList<int> Trailing => trailing;
    public override string Name => "reshape";
    public override int Arity => 1;
    public override bool IsView => true;
    public override string Attributes => $"to {Shape.Batched(trailing)}";

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var x = inputs[0].Shape;
        var target = x.IsBatched ? Shape.Batched(trailing) : new Shape(trailing);
        Expect(target.SampleSize == x.SampleSize, $"a shape with {x.SampleSize} values per sample like {target}", x);
        return target;
    }

    // A view: the plan aliases the buffers, so there is nothing to compute.
    public override void Forward(IBackend b, NodeContext c) { }
    public override void Backward(IBackend b, NodeContext c) { }
}

/// <summary>[batch; d1; …; dn] → [batch; d1·…·dn].</summary>
public sealed class Flatten : Op
{
    public override bool BackwardReadsInput(int input) => false;
    public override bool BackwardReadsOutput => false;
    public override string Name => "flatten";
    public override int Arity => 1;
    public override bool IsView => true;

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var x = inputs[0].Shape;
        Expect(x.IsBatched, "[batch; …]", x);
        return Shape.Batched(checked((int)x.SampleSize));
    }

    public override void Forward(IBackend b, NodeContext c) { }
    public override void Backward(IBackend b, NodeContext c) { }
}

/// <summary>Swaps two non-batch axes; backward swaps them back.</summary>
public sealed class Transpose(int axis0, int axis1) : Op
{
    public override bool BackwardReadsInput(int input) => false;
    public override bool BackwardReadsOutput => false;
    public int Axis0 => axis0;
    public int Axis1 => axis1;
    public override string Name => "transpose";
    public override int Arity => 1;
    public override string Attributes => $"axes=({axis0}, {axis1})";

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var x = inputs[0].Shape;
        ExpectFloat(inputs[0], "input");
        int a = x.Axis(axis0), c = x.Axis(axis1);
        if (x.IsBatched && (a == 0 || c == 0)) throw new ShapeException($"cannot move the batch axis of {x}");
        var dims = x.ToArray();
        (dims[a], dims[c]) = (dims[c], dims[a]);
        return new Shape(dims);
    }

    private sealed class Dims(int[] perm)
    {
        public readonly int[] Perm = perm;
        public readonly int[] X = new int[perm.Length];
        public readonly int[] Y = new int[perm.Length];
    }

    public override object Prepare(NodeContext c)
    {
        int rank = c.InShape(0).Rank;
        var p = new int[rank];
        for (int i = 0; i < rank; i++) p[i] = i;
        int a = c.InShape(0).Axis(axis0), d = c.InShape(0).Axis(axis1);
        (p[a], p[d]) = (p[d], p[a]);
        return new Dims(p);
    }

    private static Dims Bind(NodeContext c)
    {
        var s = (Dims)c.State!;
        for (int d = 0; d < s.Perm.Length; d++) s.X[d] = c.Dim(0, d);
        for (int d = 0; d < s.Perm.Length; d++) s.Y[d] = s.X[s.Perm[d]];
        return s;
    }

    public override void Forward(IBackend b, NodeContext c)
    {
        var s = Bind(c);
        b.Permute(s.X, s.Perm, c.In(0), c.Out, accumulate: false);
    }

    // A swap is its own inverse.
    public override void Backward(IBackend b, NodeContext c)
    {
        var s = Bind(c);
        b.Permute(s.Y, s.Perm, c.DOut, c.DIn(0), accumulate: true);
    }
}
