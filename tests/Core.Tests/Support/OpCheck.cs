using CtrDsl.Autodiff;
using CtrDsl.Cpu;
using CtrDsl.Graph;
using CtrDsl.Ops;
using CtrDsl.Tensors;

namespace CtrDsl.Tests.Support;

/// <summary>One operand of an op under test.</summary>
/// <param name="Dims">Dimensions after the batch (batched operands) or all of them.</param>
/// <param name="Batched">True when the operand has the batch dimension first.</param>
/// <param name="IdRange">For int32 id operands: ids are drawn from [Pad, IdRange); 0 means a float operand.</param>
/// <param name="Sparse">For a float table read by an embedding op: make it a row-sparse parameter.</param>
/// <param name="NoGrad">A float operand that takes no gradient, like a label.</param>
public sealed record Arg(int[] Dims, bool Batched = true, int IdRange = 0, int Pad = 0, bool Sparse = false, bool Positive = false, bool NoGrad = false)
{
    public bool IsIds => IdRange > 0;
    public long Numel(int batch) => (Batched ? batch : 1) * Dims.Aggregate(1L, (a, d) => a * d);
}

/// <summary>
/// Checks an op against its float64 reference on the real plan and CPU backend:
/// the forward output elementwise, and every float operand's gradient of L = Σ r ⊙ y against central differences
/// of the reference (in float64, so the difference quotient itself is accurate).
/// </summary>
public static class OpCheck
{
    public delegate double[] Reference(double[][] operands, int batch);

    public static void Run(Func<Op> makeOp, Arg[] args, int batch, Reference reference, int seed,
        double rtol = 1e-4, double atol = 1e-5, double gradRtol = 2e-3, double gradAtol = 2e-4, bool gradients = true, bool training = true)
    {
        var rng = new Random(seed);
        var g = new ExprGraph();
        var nodes = new Node[args.Length];
        var parameters = new Parameter?[args.Length];
        var values = new double[args.Length][];
        var ids = new int[args.Length][];
        for (int i = 0; i < args.Length; i++)
        {
            var a = args[i];
            long n = a.Numel(batch);
            if (a.IsIds)
            {
                ids[i] = Enumerable.Range(0, (int)n).Select(_ => rng.Next(a.Pad, a.IdRange)).ToArray();
                values[i] = ids[i].Select(v => (double)v).ToArray();
                nodes[i] = a.Dims.Length == 1 ? g.CategoricalInput($"ids{i}", a.Dims[0]) : throw new ArgumentException("ids must be [batch; n]");
                continue;
            }
            var dims = a.Batched ? new[] { batch }.Concat(a.Dims).ToArray() : a.Dims;
            var p = new Parameter($"x{i}", dims.Length == 0 ? [1] : dims, isSparse: a.Sparse) { Trainable = !a.NoGrad };
            for (int j = 0; j < p.Value.Length; j++)
            {
                float v = (float)(rng.NextDouble() * 2 - 1);
                p.Value[j] = a.Positive ? Math.Abs(v) + 0.5f : v;
            }
            parameters[i] = p;
            values[i] = p.Value.Select(v => (double)v).ToArray();
            var pn = g.Parameter(p);
            nodes[i] = a.Batched ? g.Apply(new Lift(), pn) : pn;
        }
        var y = g.Apply(makeOp(), nodes);
        int outN = (int)y.Shape.Numel(batch);
        var r = Enumerable.Range(0, outN).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var loss = g.Apply(new WeightedSum(r), y);
        var plan = Plan.Compile(g, new CpuBackend(), batch, loss, y);
        plan.Training = training;
        for (int i = 0; i < args.Length; i++) if (args[i].IsIds) plan.SetInput(nodes[i], ids[i]);
        plan.Forward();
        var got = new float[outN];
        plan.Read(y, got);
        var want = reference(values, batch);
        Compare($"{makeOp().Name} forward (seed {seed}, batch {batch})", want, got, rtol, atol);
        if (!gradients) return;

        plan.Backward();
        for (int i = 0; i < args.Length; i++)
        {
            var p = parameters[i];
            if (p is null || !p.Trainable) continue;
            var analytic = p.IsSparse ? Densify(p) : p.Grad;
            var numeric = new double[values[i].Length];
            for (int j = 0; j < numeric.Length; j++)
            {
                double keep = values[i][j], h = 1e-5 * Math.Max(1, Math.Abs(keep));
                values[i][j] = keep + h;
                double up = Dot(r, reference(values, batch));
                values[i][j] = keep - h;
                double down = Dot(r, reference(values, batch));
                values[i][j] = keep;
                numeric[j] = (up - down) / (2 * h);
            }
            Compare($"{makeOp().Name} d/d(operand {i}) (seed {seed}, batch {batch})", numeric, analytic, gradRtol, gradAtol);
        }
    }

    public static float[] Densify(Parameter p)
    {
        var dense = new float[p.Value.Length];
        var sg = p.SparseGrad!;
        for (int s = 0; s < sg.Count; s++)
            sg.Row(s).CopyTo(dense.AsSpan(sg.Rows[s] * sg.Dim, sg.Dim));
        return dense;
    }

    private static double Dot(float[] r, double[] y)
    {
        double s = 0;
        for (int i = 0; i < r.Length; i++) s += r[i] * y[i];
        return s;
    }

    /// <summary>|got − want| ≤ atol + rtol·|want| for every element; the message names the first offender.</summary>
    public static void Compare(string what, double[] want, ReadOnlySpan<float> got, double rtol, double atol)
    {
        if (want.Length != got.Length) throw new Xunit.Sdk.XunitException($"{what}: expected {want.Length} values, got {got.Length}");
        for (int i = 0; i < want.Length; i++)
        {
            double err = Math.Abs(got[i] - want[i]);
            if (!(err <= atol + rtol * Math.Abs(want[i])))
                throw new Xunit.Sdk.XunitException($"{what}: element {i}: expected {want[i]:G9}, got {got[i]:G9} (|err| {err:G3} > {atol} + {rtol}·|want|)");
        }
    }
}
