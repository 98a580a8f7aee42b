using CtrDsl.Backends;
using CtrDsl.Tensors;

namespace CtrDsl.Optim;

/// <summary>
/// Stochastic gradient descent, optionally with (Nesterov) momentum; the formulas are on <see cref="SgdKernel"/>.
/// Without momentum an embedding table's update is exactly sparse. With momentum a table is updated lazily: only
/// touched rows' buffers decay and move (an untouched row's buffer waits, as in TensorFlow's sparse momentum), which
/// differs from dense momentum, where every row keeps coasting.
/// </summary>
public sealed class Sgd : ElementwiseOptimizer
{
    private readonly float[][] buffers;

    public Sgd(IEnumerable<Parameter> parameters, float learningRate, float momentum = 0f, bool nesterov = false)
        : base("SGD", parameters, learningRate)
    {
        if (!(momentum >= 0f && momentum < 1f))
            throw new ArgumentOutOfRangeException(nameof(momentum), $"SGD: momentum must be in [0, 1), got {momentum}");
        if (nesterov && momentum == 0f)
            throw new ArgumentException("SGD: Nesterov momentum needs momentum > 0");
        Momentum = momentum;
        Nesterov = nesterov;
        buffers = new float[Parameters.Count][];
        for (int i = 0; i < buffers.Length; i++)
            buffers[i] = momentum == 0f ? Array.Empty<float>() : AddSlot(i, "momentum");
    }

    public float Momentum { get; }
    public bool Nesterov { get; }

    private SgdCoefficients Coefficients => new(LearningRate, Momentum, Nesterov);

    protected override void UpdateDense(int index, Parameter p)
    {
        if (Momentum == 0f) ParallelUpdate.Dense(p, LearningRate);
        else ParallelUpdate.Dense<SgdKernel, SgdCoefficients>(p, buffers[index], Coefficients);
    }

    protected override void UpdateRows(int index, Parameter p, RowSparseGrad g)
    {
        if (Momentum == 0f) ParallelUpdate.Rows(p, g, LearningRate);
        else ParallelUpdate.Rows<SgdKernel, SgdCoefficients>(p, g, buffers[index], Coefficients);
    }
}
