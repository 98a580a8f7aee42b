#nullable enable
using CtrDsl.Autodiff;
using CtrDsl.Backends;
using CtrDsl.Cpu;
using CtrDsl.Graph;
using CtrDsl.Ops;
using CtrDsl.Tensors;
using CtrDsl.Tests.Support;

namespace CtrDsl.Tests.OpenCl;

/// <summary>L = Σ r ⊙ y for fixed weights r, from backend kernels only, so it runs on any backend.</summary>
public sealed class DeviceWeightedSum(float[] r) : Op
{
    public override string Name => "device_weighted_sum";
    public override int Arity => 1;
    public override Shape Infer(IReadOnlyList<Node> inputs) => new(1);
    public override WorkspaceSpec[] Workspace(NodeContext c) => [new(r.Length, DType.Float32), new(r.Length, DType.Float32)];

    public override void Forward(IBackend b, NodeContext c)
    {
        int n = c.Numel(0);
        b.Upload(r.AsSpan(0, n), c.Work[0].Take(n));
        b.Binary(BinaryFn.Mul, c.In(0), c.Work[0].Take(n), c.Work[1].Take(n));
        b.ReduceAxis(1, n, 1, 1f, c.Work[1].Take(n), c.Out, accumulate: false);
    }

    // dx += r·dL: r times the one-value dL (Binary repeats it), then an axpy.
    public override void Backward(IBackend b, NodeContext c)
    {
        if (c.DIn(0).IsEmpty) return;
        int n = c.Numel(0);
        b.Binary(BinaryFn.Mul, c.Work[0].Take(n), c.DOut, c.Work[1].Take(n));
        b.Axpy(1f, c.Work[1].Take(n), c.DIn(0));
    }
}

/// <summary>
/// Runs one op on the CPU backend and on a candidate backend (the OpenCL one in <see cref="OpenClBackendTests"/>) from
/// the same operands, through a plan compiled on each, and compares the outputs, every gradient (dense, or row-sparse
/// with its rows in the same order) and the non-trainable operands the op moves (batch-norm running statistics).
/// Any backend can be checked family by family this way.
/// </summary>
public static class Equivalence
{
    /// <summary>|candidate − cpu| ≤ Atol + Rtol·|cpu|: float32 kernels that sum in a different order (per work-item
    /// loops, CLBlast's tiling) agree to a few ulps of the largest partial sum at these sizes.</summary>
    public const double Rtol = 1e-4, Atol = 1e-5;

    public static void Run(IBackend candidate, Func<Op> makeOp, Arg[] args, int batch, int seed, bool training = true,
        double rtol = Rtol, double atol = Atol)
    {
        var rng = new Random(seed);
        var values = new float[args.Length][];
        var ids = new int[args.Length][];
        for (int i = 0; i < args.Length; i++)
        {
            var a = args[i];
            long n = a.Numel(batch);
            if (a.IsIds) { ids[i] = Enumerable.Range(0, (int)n).Select(_ => rng.Next(a.Pad, a.IdRange)).ToArray(); continue; }
            values[i] = Enumerable.Range(0, (int)n).Select(_ =>
            {
                float v = (float)(rng.NextDouble() * 2 - 1);
                return a.NoGrad ? (v > 0 ? 1f : 0f) : a.Positive ? Math.Abs(v) + 0.5f : v;
            }).ToArray();
        }
        int outN = -1;
        float[] r = [];
        Result Once(IBackend backend)
        {
            var g = new ExprGraph();
            var nodes = new Node[args.Length];
            var ps = new Parameter?[args.Length];
            for (int i = 0; i < args.Length; i++)
            {
                var a = args[i];
                if (a.IsIds) { nodes[i] = g.CategoricalInput($"ids{i}", a.Dims[0]); continue; }
                var dims = a.Batched ? new[] { batch }.Concat(a.Dims).ToArray() : a.Dims;
                var p = new Parameter($"x{i}", dims.Length == 0 ? [1] : dims, isSparse: a.Sparse) { Trainable = !a.NoGrad };
                values[i].CopyTo(p.Value, 0);
                ps[i] = p;
                var pn = g.Parameter(p);
                nodes[i] = a.Batched ? g.Apply(new Lift(), pn) : pn;
            }
            var y = g.Apply(makeOp(), nodes);
            if (outN < 0)
            {
                outN = (int)y.Shape.Numel(batch);
                var rr = new Random(seed + 1);
                r = Enumerable.Range(0, outN).Select(_ => (float)(rr.NextDouble() * 2 - 1)).ToArray();
            }
            var loss = g.Apply(new DeviceWeightedSum(r), y);
            var plan = Plan.Compile(g, backend, batch, loss, y);
            plan.Training = training;
            plan.Seed = (ulong)seed;
            for (int i = 0; i < args.Length; i++) if (args[i].IsIds) plan.SetInput(nodes[i], ids[i]);
            plan.Forward();
            var output = new float[outN];
            plan.Read(y, output);
            plan.Backward();
            return new Result(output, ps);
        }

        var cpu = Once(new CpuBackend());
        var other = Once(candidate);
        string name = makeOp().Name, where = $"(seed {seed}, batch {batch}, shapes {string.Join(" ", args.Select(a => $"[{string.Join("; ", a.Dims)}]"))})";
        Compare($"{name} forward {where}", cpu.Output, other.Output, rtol, atol);
        for (int i = 0; i < args.Length; i++)
        {
            var (pc, po) = (cpu.Parameters[i], other.Parameters[i]);
            if (pc is null || po is null) continue;
            if (!pc.Trainable) { Compare($"{name} operand {i} after forward {where}", pc.Value, po.Value, rtol, atol); continue; }
            if (pc.IsSparse)
            {
                var (gc, go) = (pc.SparseGrad!, po.SparseGrad!);
                if (gc.Count != go.Count || !gc.Rows.AsSpan(0, gc.Count).SequenceEqual(go.Rows.AsSpan(0, go.Count)))
                    throw new Xunit.Sdk.XunitException($"{name} operand {i} {where}: sparse rows differ: cpu [{string.Join(", ", gc.Rows.Take(gc.Count))}], {candidate.Name} [{string.Join(", ", go.Rows.Take(go.Count))}]");
                Compare($"{name} d/d(operand {i}) {where}", OpCheck.Densify(pc), OpCheck.Densify(po), rtol, atol);
            }
            else Compare($"{name} d/d(operand {i}) {where}", pc.Grad, po.Grad, rtol, atol);
        }
    }

    private sealed record Result(float[] Output, Parameter?[] Parameters);

    public static void Compare(string what, float[] cpu, float[] candidate, double rtol, double atol) =>
        OpCheck.Compare(what, cpu.Select(v => (double)v).ToArray(), candidate, rtol, atol);
}
