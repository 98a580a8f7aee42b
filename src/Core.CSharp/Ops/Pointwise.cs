using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Tensors;

namespace CtrDsl.Ops;

/// <summary>A shape-preserving pointwise function whose backward needs only x, y and dy.</summary>
public abstract class UnaryOp(UnaryFn fn) : Op
{
    public override int Arity => 1;
    public UnaryFn Function => fn;

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        ExpectFloat(inputs[0], "input");
        return inputs[0].Shape;
    }

    public override bool BackwardReadsInput(int input) => false; // every UnaryFn's derivative is written in y
    public override bool CanOverwriteGrad(int input) => true;
    public override void Forward(IBackend b, NodeContext c) => b.Unary(fn, c.In(0), c.Out);
    public override void Backward(IBackend b, NodeContext c) =>
        b.UnaryBackward(fn, c.In(0), c.Out, c.DOut, c.DIn(0), accumulate: !c.Overwrite[0]);
}

/// <summary>max(x, 0); dx = dy where y &gt; 0.</summary>
public sealed class Relu() : UnaryOp(UnaryFn.Relu) { public override string Name => "relu"; }

/// <summary>1/(1+e^−x); reuses the output: dx = dy·y·(1−y).</summary>
public sealed class Sigmoid() : UnaryOp(UnaryFn.Sigmoid) { public override string Name => "sigmoid"; }

/// <summary>tanh x; reuses the output: dx = dy·(1−y²).</summary>
public sealed class Tanh() : UnaryOp(UnaryFn.Tanh) { public override string Name => "tanh"; }

/// <summary>
/// a ∘ b with b broadcast: b's shape equals a's, or is a suffix of a's trailing dimensions (a bias or a
/// per-feature scale repeated over the leading axes). The gradient of b sums over the repeats.
/// </summary>
public abstract class BinaryOp(BinaryFn fn) : Op
{
    public override int Arity => 2;
    public BinaryFn Function => fn;

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var a = inputs[0].Shape;
        var bs = inputs[1].Shape;
        ExpectFloat(inputs[0], "left operand");
        ExpectFloat(inputs[1], "right operand");
        if (a == bs) return a;
        var at = a.Trailing;
        var bt = bs.Trailing;
        bool suffix = !bs.IsBatched && bt.Length <= at.Length && at.AsSpan(at.Length - bt.Length).SequenceEqual(bt);
        Expect(suffix, $"{a} or a suffix of its trailing dimensions", bs);
        return a;
    }

    public override bool BackwardReadsInput(int input) => fn == BinaryFn.Mul;
    public override bool BackwardReadsOutput => false;
    public override void Forward(IBackend b, NodeContext c) => b.Binary(fn, c.In(0), c.In(1), c.Out);

    public override void Backward(IBackend b, NodeContext c) =>
        b.BinaryBackward(fn, c.In(0), c.In(1), c.DOut, c.DIn(0), c.DIn(1));
}

/// <summary>a + b (b may broadcast).</summary>
public sealed class Add() : BinaryOp(BinaryFn.Add) { public override string Name => "add"; }

/// <summary>a − b (b may broadcast).</summary>
public sealed class Sub() : BinaryOp(BinaryFn.Sub) { public override string Name => "sub"; }

/// <summary>a ⊙ b (b may broadcast); da = dy·b, db = dy·a.</summary>
public sealed class Mul() : BinaryOp(BinaryFn.Mul) { public override string Name => "mul"; }

/// <summary>y = s·x for a constant s; dx = s·dy.</summary>
public sealed class Scale(float s) : Op
{
    public override string Name => "scale";
    public override int Arity => 1;
    public float Factor => s;
    public override string Attributes => $"s={s}";
    public override bool BackwardReadsInput(int input) => false;
    public override bool BackwardReadsOutput => false;

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        ExpectFloat(inputs[0], "input");
        return inputs[0].Shape;
    }

    public override void Forward(IBackend b, NodeContext c)
    {
        b.Fill(c.Out, 0f);
        b.Axpy(s, c.In(0), c.Out);
    }

    public override void Backward(IBackend b, NodeContext c) => b.Axpy(s, c.DOut, c.DIn(0));
}

/// <summary>
/// PReLU over the last axis: y = x for x ≥ 0, a·x otherwise, with one learned slope per feature (x [batch; …; n],
/// a [n]; every leading position shares the slopes, as DIN's attention unit applies it to each sequence position).
/// </summary>
public sealed class PRelu : Op
{
    public override string Name => "prelu";
    public override int Arity => 2;
    public override bool BackwardReadsOutput => false;

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        var x = inputs[0].Shape;
        Expect(x.IsBatched && x.Rank >= 2, "[batch; …; n]", x);
        int n = x[x.Rank - 1];
        Expect(inputs[1].Shape == new Shape(n), $"slope [{n}]", inputs[1].Shape);
        return x;
    }

    public override void Forward(IBackend b, NodeContext c)
    {
        var (rows, n) = c.LastAxisRows(0);
        b.PRelu(rows, n, c.In(0), c.X[1], c.Out);
    }

    public override void Backward(IBackend b, NodeContext c)
    {
        var (rows, n) = c.LastAxisRows(0);
        b.PReluBackward(rows, n, c.In(0), c.X[1], c.DOut, c.DIn(0), c.DX[1]);
    }
}

/// <summary>
/// Inverted dropout: in training each value is kept with probability 1−rate and scaled by 1/(1−rate); in
/// evaluation it is the identity. The mask is saved for backward (dx = dy·mask).
/// </summary>
public sealed class Dropout : Op
{
    public Dropout(float rate)
    {
        if (!(rate >= 0f && rate < 1f)) throw new ArgumentOutOfRangeException(nameof(rate), $"dropout: rate must be in [0, 1), got {rate}");
        Rate = rate;
    }

    public float Rate { get; }
    public override string Name => "dropout";
    public override int Arity => 1;
    public override string Attributes => $"rate={Rate}";
    public override bool BackwardReadsInput(int input) => false; // the mask is in the workspace
    public override bool BackwardReadsOutput => false;

    public override Shape Infer(IReadOnlyList<Node> inputs)
    {
        ExpectFloat(inputs[0], "input");
        return inputs[0].Shape;
    }

    public override WorkspaceSpec[] Workspace(NodeContext c) => [new(c.Node.Shape.Numel(c.MaxBatch), DType.Float32)];

    public override void Forward(IBackend b, NodeContext c)
    {
        if (c.Training && Rate > 0f) b.Dropout(Rate, c.Seed, c.In(0), c.Work[0].Take(c.OutNumel), c.Out);
        else b.CopyRows(1, c.OutNumel, c.In(0), 0, c.Out, 0, accumulate: false);
    }

    public override void Backward(IBackend b, NodeContext c)
    {
        if (c.Training && Rate > 0f)
        {
            var mask = c.Work[0].Take(c.OutNumel);
            b.BinaryBackward(BinaryFn.Mul, mask, mask, c.DOut, c.DIn(0), default); // dx += dy·mask
        }
        else b.Axpy(1f, c.DOut, c.DIn(0));
    }
}
