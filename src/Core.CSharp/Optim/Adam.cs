using CtrDsl.Backends;
using CtrDsl.Tensors;

namespace CtrDsl.Optim;

/// <summary>
/// Adam with PyTorch semantics (bias correction, eps added to √v̂), and AdamW when <c>decoupledWeightDecay</c> &gt; 0;
/// the formulas are on <see cref="AdamKernel"/>. Coupled L2 comes from <see cref="Parameter.L2"/> instead
/// (see <see cref="Regularization"/>).
/// <para>An embedding table is updated lazily (TensorFlow Addons LazyAdam): only the touched rows' weights and moments
/// move (decoupled weight decay too); the bias correction uses the global step t, not a per-row count. Untouched rows keep stale moments, which is
/// the point: a step costs O(batch rows), not O(table).</para>
/// </summary>
public sealed class Adam : ElementwiseOptimizer
{
    private readonly float[][] m;
    private readonly float[][] v;
    private AdamCoefficients c;

    public Adam(
        IEnumerable<Parameter> parameters, float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f,
        float eps = 1e-8f, float decoupledWeightDecay = 0f)
        : base(decoupledWeightDecay == 0f ? "Adam" : "AdamW", parameters, learningRate)
    {
        if (!(beta1 >= 0f && beta1 < 1f)) throw new ArgumentOutOfRangeException(nameof(beta1), $"{Name}: β1 must be in [0, 1), got {beta1}");
        if (!(beta2 >= 0f && beta2 < 1f)) throw new ArgumentOutOfRangeException(nameof(beta2), $"{Name}: β2 must be in [0, 1), got {beta2}");
        if (!(eps >= 0f)) throw new ArgumentOutOfRangeException(nameof(eps), $"{Name}: eps must be ≥ 0, got {eps}");
        if (!(decoupledWeightDecay >= 0f))
            throw new ArgumentOutOfRangeException(nameof(decoupledWeightDecay), $"{Name}: weight decay must be ≥ 0, got {decoupledWeightDecay}");
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
        DecoupledWeightDecay = decoupledWeightDecay;
        m = new float[Parameters.Count][];
        v = new float[Parameters.Count][];
        for (int i = 0; i < m.Length; i++)
        {
            m[i] = AddSlot(i, "m");
            v[i] = AddSlot(i, "v");
        }
    }

    public float Beta1 { get; }
    public float Beta2 { get; }
    public float Eps { get; }
    public float DecoupledWeightDecay { get; }

    protected override void BeginStep(long t) =>
        c = AdamCoefficients.At(t, LearningRate, Beta1, Beta2, Eps, DecoupledWeightDecay);

    protected override void UpdateDense(int index, Parameter p) =>
        ParallelUpdate.Dense<AdamKernel, AdamCoefficients>(p, m[index], v[index], c);

    protected override void UpdateRows(int index, Parameter p, RowSparseGrad g) =>
        ParallelUpdate.Rows<AdamKernel, AdamCoefficients>(p, g, m[index], v[index], c);
}
