using CtrDsl.Tensors;

namespace CtrDsl.Optim;

/// <summary>
/// Ranger = RAdam + Lookahead (Wright 2019), following the reference ranger.py (lessw2020): defaults lr 1e-3,
/// β = (0.95, 0.999), eps 1e-5, Lookahead k = 6 and α = 0.5, rectification when N_sma &gt; 5. Per step t (1-based):
/// <code>
/// v ← β2·v + (1 − β2)·g²;   m ← β1·m + (1 − β1)·g
/// N_max = 2/(1 − β2) − 1;   N_t = N_max − 2t·β2ᵗ/(1 − β2ᵗ)
/// if N_t &gt; 5:  w ← w − lr·√((1 − β2ᵗ)(N_t − 4)(N_t − 2)N_max / ((N_max − 4)N_t(N_max − 2))) / (1 − β1ᵗ) · m/(√v + eps)
/// else:        w ← w − lr/(1 − β1ᵗ) · m
/// every k steps:  slow ← slow + α(w − slow);  w ← slow      (slow starts as w at the first step)
/// </code>
/// (with optional weight decay w ← w·(1 − lr·wd) before the RAdam update, as ranger.py). Coefficients are on
/// <see cref="RangerCoefficients.At"/>, the elementwise update on <see cref="RangerKernel"/>.
/// <para>Embedding tables: the RAdam half is lazy, as LazyAdam: only touched rows' weights and moments move, with the
/// global t in N_t and the bias corrections. The Lookahead half syncs the whole table every k global steps; a row not
/// touched since the last sync still equals its slow copy, so the sync leaves it unchanged, and a touched row is pulled
/// back exactly as in the dense rule. The sync costs O(table) once every k steps.</para>
/// </summary>
public sealed class Ranger : ElementwiseOptimizer
{
    private readonly float[][] m;
    private readonly float[][] v;
    private readonly float[][] slow;
    private RangerCoefficients c;

    public Ranger(
        IEnumerable<Parameter> parameters, float learningRate = 1e-3f, float beta1 = 0.95f, float beta2 = 0.999f,
        float eps = 1e-5f, float weightDecay = 0f, int k = 6, float alpha = 0.5f, float smaThreshold = 5f)
        : base("Ranger", parameters, learningRate)
    {
        if (!(beta1 >= 0f && beta1 < 1f)) throw new ArgumentOutOfRangeException(nameof(beta1), $"Ranger: β1 must be in [0, 1), got {beta1}");
        if (!(beta2 > 0f && beta2 < 1f)) throw new ArgumentOutOfRangeException(nameof(beta2), $"Ranger: β2 must be in (0, 1), got {beta2}");
        if (!(eps >= 0f)) throw new ArgumentOutOfRangeException(nameof(eps), $"Ranger: eps must be ≥ 0, got {eps}");
        if (!(weightDecay >= 0f)) throw new ArgumentOutOfRangeException(nameof(weightDecay), $"Ranger: weight decay must be ≥ 0, got {weightDecay}");
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), $"Ranger: Lookahead k must be ≥ 1, got {k}");
        if (!(alpha >= 0f && alpha <= 1f)) throw new ArgumentOutOfRangeException(nameof(alpha), $"Ranger: Lookahead α must be in [0, 1], got {alpha}");
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
        WeightDecay = weightDecay;
        K = k;
        Alpha = alpha;
        SmaThreshold = smaThreshold;
        m = new float[Parameters.Count][];
        v = new float[Parameters.Count][];
        slow = new float[Parameters.Count][];
        for (int i = 0; i < m.Length; i++)
        {
            m[i] = AddSlot(i, "m");
            v[i] = AddSlot(i, "v");
            slow[i] = AddSlot(i, "slow");
        }
    }

    public float Beta1 { get; }
    public float Beta2 { get; }
    public float Eps { get; }
    public float WeightDecay { get; }
    public int K { get; }
    public float Alpha { get; }
    public float SmaThreshold { get; }

    protected override void BeginStep(long t)
    {
        // ranger.py copies the slow weights from the parameters on their first step, not at construction, so a model
        // initialised after the optimizer was built still starts Lookahead from its initial weights.
        if (t == 1)
        {
            for (int i = 0; i < slow.Length; i++) Parameters[i].Value.CopyTo(slow[i], 0);
        }
        c = RangerCoefficients.At(t, LearningRate, Beta1, Beta2, Eps, WeightDecay, SmaThreshold);
    }

    protected override void UpdateDense(int index, Parameter p) =>
        ParallelUpdate.Dense<RangerKernel, RangerCoefficients>(p, m[index], v[index], c);

    protected override void UpdateRows(int index, Parameter p, RowSparseGrad g) =>
        ParallelUpdate.Rows<RangerKernel, RangerCoefficients>(p, g, m[index], v[index], c);

    protected override void EndStep(long t)
    {
        if (t % K != 0) return;
        for (int i = 0; i < slow.Length; i++) LookaheadKernel.Sync(Parameters[i].Value, slow[i], Alpha);
    }
}
