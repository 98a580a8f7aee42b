using CtrDsl.Tensors;

namespace CtrDsl.Optim;

/// <summary>
/// FTRL-Proximal (McMahan et al. 2013), per coordinate, with α = <see cref="Optimizer.LearningRate"/>; the formula is on
/// <see cref="FtrlKernel"/>. The weights are a function of the state (z, n): whatever values a parameter starts with,
/// the first step replaces them. α divides in the update, so a learning rate set to 0 later gives NaN weights. Untouched rows of an embedding table keep z, n and w, so the sparse update is exact.
/// </summary>
public sealed class Ftrl : ElementwiseOptimizer
{
    private readonly float[][] z;
    private readonly float[][] n;

    /// <param name="parameters">The parameters to update.</param>
    /// <param name="alpha">α, the per-coordinate learning-rate scale (paper's notation).</param>
    /// <param name="beta">β, smooths the first steps' rate α/(β + √n) (paper: β = 1 is usually good enough).</param>
    /// <param name="l1">λ1: coordinates with |z| ≤ λ1 are exactly 0.</param>
    /// <param name="l2">λ2, FTRL's own L2 term (independent of <see cref="Parameter.L2"/>).</param>
    public Ftrl(IEnumerable<Parameter> parameters, float alpha = 0.05f, float beta = 1f, float l1 = 0f, float l2 = 0f)
        : base("FTRL", parameters, alpha)
    {
        if (!(alpha > 0f)) throw new ArgumentOutOfRangeException(nameof(alpha), $"FTRL: α must be > 0 (it divides), got {alpha}");
        if (!(beta >= 0f)) throw new ArgumentOutOfRangeException(nameof(beta), $"FTRL: β must be ≥ 0, got {beta}");
        if (!(l1 >= 0f)) throw new ArgumentOutOfRangeException(nameof(l1), $"FTRL: λ1 must be ≥ 0, got {l1}");
        if (!(l2 >= 0f)) throw new ArgumentOutOfRangeException(nameof(l2), $"FTRL: λ2 must be ≥ 0, got {l2}");
        Beta = beta;
        L1 = l1;
        L2 = l2;
        z = new float[Parameters.Count][];
        n = new float[Parameters.Count][];
        for (int i = 0; i < z.Length; i++)
        {
            z[i] = AddSlot(i, "z");
            n[i] = AddSlot(i, "n");
        }
    }

    public float Beta { get; }
    public float L1 { get; }
    public float L2 { get; }

    private FtrlCoefficients Coefficients => new(LearningRate, Beta, L1, L2);

    protected override void UpdateDense(int index, Parameter p) =>
        ParallelUpdate.Dense<FtrlKernel, FtrlCoefficients>(p, z[index], n[index], Coefficients);

    protected override void UpdateRows(int index, Parameter p, RowSparseGrad g) =>
        ParallelUpdate.Rows<FtrlKernel, FtrlCoefficients>(p, g, z[index], n[index], Coefficients);
}
