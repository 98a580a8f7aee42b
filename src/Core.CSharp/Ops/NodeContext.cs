using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Tensors;

namespace CtrDsl.Ops;

/// <summary>
/// Everything one node's kernels see: its buffers, the batch bound at this step, the mode, and a seed.
/// Made once when the plan is compiled and reused every step.
/// </summary>
public sealed class NodeContext
{
    internal NodeContext(Node node, int maxBatch, Node[]? operands = null)
    {
        Node = node;
        Operands = operands ?? node.Inputs;
        Kernel = node.Op!;
        MaxBatch = maxBatch;
        Batch = maxBatch;
        int n = Operands.Length;
        X = new BufferView[n];
        DX = new BufferView[n];
        Sparse = new SparseRowAccumulator?[n];
        Overwrite = new bool[n];
        Work = [];
    }

    public Node Node { get; }

    /// <summary>
    /// The nodes whose values the kernel reads, in the order of <see cref="X"/>: the node's inputs, unless the plan
    /// compiler fused a producer into this node (a concat absorbed by a linear layer reads the concat's inputs).
    /// </summary>
    public Node[] Operands { get; }

    /// <summary>The op that runs this node: the node's own, or a fused one the plan compiler chose.</summary>
    internal Op Kernel { get; set; }
    public int MaxBatch { get; }

    /// <summary>Rows present this step (≤ <see cref="MaxBatch"/>; the last batch of an epoch may be short).</summary>
    public int Batch { get; internal set; }

    public bool Training { get; internal set; }

    /// <summary>A per-step, per-node seed for stochastic ops.</summary>
    public ulong Seed { get; internal set; }

    public BufferView[] X { get; }
    public BufferView Y { get; internal set; }
    public BufferView DY { get; internal set; }
    public BufferView[] DX { get; }
    public BufferView[] Work { get; internal set; }

    /// <summary>What <see cref="Op.Prepare"/> made for this node.</summary>
    public object? State { get; internal set; }

    /// <summary>The accumulator of a sparse table input, when the input is one.</summary>
    public SparseRowAccumulator?[] Sparse { get; }

    public Shape InShape(int input) => Operands[input].Shape;
    public Shape OutShape => Node.Shape;

    /// <summary>A dimension of an input with the batch bound to this step's rows.</summary>
    public int Dim(int input, int axis)
    {
        int d = Operands[input].Shape[axis];
        return d == Shape.Batch ? Batch : d;
    }

    /// <summary>Elements of an input at this step's batch.</summary>
    public int Numel(int input) => checked((int)Operands[input].Shape.Numel(Batch));

    public int OutNumel => checked((int)Node.Shape.Numel(Batch));

    /// <summary>Product of an input's dimensions in [from, to), batch bound.</summary>
    public int Product(int input, int from, int to) => checked((int)Operands[input].Shape.Product(from, to, Batch));

    /// <summary>An input viewed as rows of its last axis: [batch; …; n] is (numel / n, n). Ops that apply one
    /// per-feature vector to every leading position (layer and batch norm, PReLU) use this view.</summary>
    public (int rows, int n) LastAxisRows(int input)
    {
        int n = Dim(input, InShape(input).Rank - 1);
        return (n == 0 ? 0 : Numel(input) / n, n);
    }

    /// <summary>An input's value restricted to this step's rows.</summary>
    public BufferView In(int input) => X[input].Take(Numel(input));

    public BufferView Out => Y.Take(OutNumel);
    public BufferView DOut => DY.Take(OutNumel);

    /// <summary>An input's gradient restricted to this step's rows, or empty when not wanted.</summary>
    public BufferView DIn(int input) => DX[input].IsEmpty ? default : DX[input].Take(Numel(input));

    public bool WantsGrad(int input) => !DX[input].IsEmpty || Sparse[input] is not null;

    /// <summary>
    /// Per input: this op runs first among the writers of the input's gradient buffer, which the plan did not zero,
    /// so backward must overwrite it (only set where <see cref="Op.CanOverwriteGrad"/> allows).
    /// </summary>
    public bool[] Overwrite { get; }

    /// <summary>The GEMM beta for writing input <paramref name="input"/>'s gradient: 0 to overwrite, 1 to add.</summary>
    public float GradBeta(int input) => Overwrite[input] ? 0f : 1f;
}
