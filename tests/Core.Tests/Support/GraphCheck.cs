using CtrDsl.Autodiff;
using CtrDsl.Cpu;
using CtrDsl.Graph;
using CtrDsl.Tensors;

namespace CtrDsl.Tests.Support;

/// <summary>
/// <see cref="OpCheck"/> for a small graph instead of one op: <paramref name="build"/> wires the float operands
/// into any composition, so one operand may feed several inputs (a = b in AFM's pairwise product) and a
/// composite (Expand then Mul) is checked as a whole. Same contract: the output against the float64 reference,
/// and each operand's gradient of L = Σ r ⊙ y, accumulated by the plan, against central differences.
/// </summary>
public static class GraphCheck
{
    public static void Run(string what, Func<ExprGraph, Node[], Node> build, Arg[] args, int batch, OpCheck.Reference reference,
        int seed, double rtol = 1e-4, double atol = 1e-5, double gradRtol = 2e-3, double gradAtol = 2e-4)
    {
        var rng = new Random(seed);
        var g = new ExprGraph();
        var nodes = new Node[args.Length];
        var parameters = new Parameter[args.Length];
        var values = new double[args.Length][];
        for (int i = 0; i < args.Length; i++)
        {
            var a = args[i];
            if (a.IsIds) throw new ArgumentException("GraphCheck takes float operands only");
            var dims = a.Batched ? new[] { batch }.Concat(a.Dims).ToArray() : a.Dims;
            var p = new Parameter($"x{i}", dims, isSparse: false) { Trainable = !a.NoGrad };
            for (int j = 0; j < p.Value.Length; j++) p.Value[j] = (float)(rng.NextDouble() * 2 - 1);
            parameters[i] = p;
            values[i] = p.Value.Select(v => (double)v).ToArray();
            var pn = g.Parameter(p);
            nodes[i] = a.Batched ? g.Apply(new Lift(), pn) : pn;
        }
        var y = build(g, nodes);
        int outN = (int)y.Shape.Numel(batch);
        var r = Enumerable.Range(0, outN).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var loss = g.Apply(new WeightedSum(r), y);
        var plan = Plan.Compile(g, new CpuBackend(), batch, loss, y);
        plan.Training = true;
        plan.Forward();
        var got = new float[outN];
        plan.Read(y, got);
        OpCheck.Compare($"{what} forward (seed {seed}, batch {batch})", reference(values, batch), got, rtol, atol);

        plan.Backward();
        for (int i = 0; i < args.Length; i++)
        {
            if (!parameters[i].Trainable) continue;
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
            OpCheck.Compare($"{what} d/d(operand {i}) (seed {seed}, batch {batch})", numeric, parameters[i].Grad, gradRtol, gradAtol);
        }
    }

    private static double Dot(float[] r, double[] y)
    {
        double s = 0;
        for (int i = 0; i < r.Length; i++) s += r[i] * y[i];
        return s;
    }
}
