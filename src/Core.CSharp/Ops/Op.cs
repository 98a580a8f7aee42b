using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Tensors;

namespace CtrDsl.Ops;

/// <summary>A scratch buffer an op needs between its forward and backward passes.</summary>
public readonly record struct WorkspaceSpec(long Length, DType Type);

/// <summary>
/// An op: shape inference, forward and backward side by side. Forward writes the output; backward ACCUMULATES into
/// the gradients of the inputs that want one (<see cref="NodeContext.DX"/> empty otherwise).
/// </summary>
public abstract class Op
{
    /// <summary>The name used in errors and by describe, e.g. "linear".</summary>
    public abstract string Name { get; }

    /// <summary>Number of inputs, or −1 for any.</summary>
    public abstract int Arity { get; }

    public virtual DType OutputType => DType.Float32;

    /// <summary>Infers the output shape; throws <see cref="ShapeException"/> describing what was expected.</summary>
    public abstract Shape Infer(IReadOnlyList<Node> inputs);

    /// <summary>True when the output is the first input's buffer seen with another shape (reshape, flatten).</summary>
    public virtual bool IsView => false;

    /// <summary>True for inputs that may be a row-sparse embedding table.</summary>
    public virtual bool AcceptsSparse(int input) => false;

    /// <summary>
    /// True when the backward pass can write input <paramref name="input"/>'s gradient whole instead of adding to it,
    /// when <see cref="NodeContext.Overwrite"/> says so. The plan asks the first op to write each gradient buffer in
    /// the backward schedule and then skips zeroing that buffer.
    /// </summary>
    public virtual bool CanOverwriteGrad(int input) => false;

    /// <summary>
    /// Whether the backward pass reads input <paramref name="input"/>'s value. A training plan keeps a value from its
    /// forward write until its last reader, forward or backward, then hands the buffer to later values and
    /// gradients; an op that declares what its backward does not read frees that memory. True unless the op says not.
    /// </summary>
    public virtual bool BackwardReadsInput(int input) => true;

    /// <summary>Whether the backward pass reads the op's own output value (tanh, sigmoid and softmax do). True unless the op says not.</summary>
    public virtual bool BackwardReadsOutput => true;

    /// <summary>Scratch buffers, sized for the largest batch the plan runs. They live from the op's forward pass to its backward pass.</summary>
    public virtual WorkspaceSpec[] Workspace(NodeContext c) => [];

    /// <summary>Host-side state made once per node when the plan is compiled (kept in <see cref="NodeContext.State"/>).</summary>
    public virtual object? Prepare(NodeContext c) => null;

    public abstract void Forward(IBackend b, NodeContext c);
    public abstract void Backward(IBackend b, NodeContext c);

    /// <summary>Attributes shown by describe, e.g. "axis=1".</summary>
    public virtual string Attributes => "";

    // ---- shape-check helpers ------------------------------------------------------------------------------
    protected static void Expect(bool ok, string expected, Shape got)
    {
        if (!ok) throw new ShapeException($"expected {expected}, got {got}");
    }

    protected static void ExpectFloat(Node n, string role)
    {
        if (n.Type != DType.Float32) throw new ShapeException($"{role} must be float32, got int32 {n.Shape}");
    }

    protected static void ExpectInt(Node n, string role)
    {
        if (n.Type != DType.Int32) throw new ShapeException($"{role} must be int32 ids, got float32 {n.Shape}");
    }
}
