using CtrDsl.Backends;
using CtrDsl.Tensors;

namespace CtrDsl.Optim;

/// <summary>
/// Adagrad (Duchi et al. 2011); the formula is on <see cref="AdagradKernel"/>. An embedding table is updated lazily:
/// only touched rows move and accumulate, which for Adagrad equals the dense update (a zero gradient changes neither
/// the accumulator nor the weight).
/// </summary>
public sealed class Adagrad : ElementwiseOptimizer
{
    private readonly float[][] sums;

    /// <param name="parameters">The parameters to update.</param>
    /// <param name="learningRate">The step size lr.</param>
    /// <param name="initialAccumulator">Starting value of Σg² (torch 0, TF/Keras 0.1).</param>
    /// <param name="eps">Added to √Σg² (torch 1e-10, Keras 1e-7).</param>
    public Adagrad(IEnumerable<Parameter> parameters, float learningRate = 0.01f, float initialAccumulator = 0f, float eps = 1e-10f)
        : base("Adagrad", parameters, learningRate)
    {
        if (!(initialAccumulator >= 0f))
            throw new ArgumentOutOfRangeException(nameof(initialAccumulator), $"Adagrad: initial accumulator must be ≥ 0, got {initialAccumulator}");
        if (!(eps >= 0f))
            throw new ArgumentOutOfRangeException(nameof(eps), $"Adagrad: eps must be ≥ 0, got {eps}");
        Eps = eps;
        sums = new float[Parameters.Count][];
        for (int i = 0; i < sums.Length; i++) sums[i] = AddSlot(i, "sum", initialAccumulator);
    }

    public float Eps { get; }

    private AdagradCoefficients Coefficients => new(LearningRate, Eps);

    protected override void UpdateDense(int index, Parameter p) =>
        ParallelUpdate.Dense<AdagradKernel, AdagradCoefficients>(p, sums[index], Coefficients);

    protected override void UpdateRows(int index, Parameter p, RowSparseGrad g) =>
        ParallelUpdate.Rows<AdagradKernel, AdagradCoefficients>(p, g, sums[index], Coefficients);
}
