using CtrDsl.Optim;
using CtrDsl.Tensors;
using FsCheck;
using FsCheck.Fluent;
using Xunit.Sdk;

namespace CtrDsl.Tests.Optim;

/// <summary>Parameters, gradients, comparisons and the list of every optimizer, shared by the optimizer tests.</summary>
internal static class OptimFixtures
{
    /// <summary>Lengths that run every path of the kernel loop: empty, tails only, each vector width ±1, primes, mixes.</summary>
    public static readonly int[] Lengths = [0, 1, 2, 3, 7, 8, 9, 13, 15, 16, 17, 23, 24, 25, 31, 32, 33, 37, 47, 101];

    public static Arbitrary<int> LengthArb => Gen.Elements(Lengths).ToArbitrary();
    public static Arbitrary<int> SeedArb => Gen.Choose(0, 1_000_000).ToArbitrary();

    /// <summary>The learning rate of step t in the reference tests: drops by half after step 3 (a reduce-on-plateau).</summary>
    public static float LearningRateAt(float lr0, long t) => t <= 3 ? lr0 : lr0 * 0.5f;

    public static float[] RandomFloats(Random r, int n, float scale = 1f)
    {
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = scale * (2f * r.NextSingle() - 1f);
        return x;
    }

    public static double[] ToDouble(ReadOnlySpan<float> x)
    {
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++) y[i] = x[i];
        return y;
    }

    public static Parameter Dense(string name, int[] shape, Random r, string group = "default")
    {
        var p = new Parameter(name, shape) { Group = group };
        RandomFloats(r, p.Value.Length).CopyTo(p.Value, 0);
        return p;
    }

    public static Parameter Table(string name, int rows, int dim, Random r, string group = "embedding")
    {
        var p = new Parameter(name, [rows, dim], isSparse: true) { Group = group };
        RandomFloats(r, p.Value.Length).CopyTo(p.Value, 0);
        p.SparseGrad = new RowSparseGrad(rows, dim);
        return p;
    }

    /// <summary>Sets a table's sparse gradient to random values on <paramref name="rows"/> (distinct, in this order).</summary>
    public static void SetRows(Parameter table, int[] rows, Random r)
    {
        var g = table.SparseGrad!;
        g.Count = rows.Length;
        rows.CopyTo(g.Rows, 0);
        RandomFloats(r, rows.Length * g.Dim).CopyTo(g.Values, 0);
    }

    /// <summary>Fresh random gradients for every parameter; tables get a random subset of distinct rows.</summary>
    public static void RandomGradients(IReadOnlyList<Parameter> ps, Random r)
    {
        foreach (var p in ps)
        {
            if (!p.IsSparse)
            {
                RandomFloats(r, p.Grad.Length).CopyTo(p.Grad, 0);
                continue;
            }
            var rows = Enumerable.Range(0, p.Shape[0]).Where(_ => r.Next(3) == 0).OrderBy(_ => r.Next()).ToArray();
            SetRows(p, rows, r);
        }
    }

    /// <summary>A deep copy of parameters: values, gradients and sparse gradients, same names and settings.</summary>
    public static Parameter[] Clone(IReadOnlyList<Parameter> ps) => ps.Select(p =>
    {
        var q = new Parameter(p.Name, (int[])p.Shape.Clone(), p.IsSparse) { L2 = p.L2, Group = p.Group };
        p.Value.CopyTo(q.Value, 0);
        p.Grad.CopyTo(q.Grad, 0);
        if (p.SparseGrad is { } g)
        {
            q.SparseGrad = new RowSparseGrad(g.Rows.Length, g.Dim) { Count = g.Count };
            g.Rows.CopyTo(q.SparseGrad.Rows, 0);
            g.Values.CopyTo(q.SparseGrad.Values, 0);
        }
        return q;
    }).ToArray();

    public static Dictionary<string, float[]> CopyState(IReadOnlyDictionary<string, float[]> state) =>
        state.ToDictionary(kv => kv.Key, kv => (float[])kv.Value.Clone());

    /// <summary>Random non-negative state of the right sizes (valid for every slot: moments, accumulators, z, n, slow).</summary>
    public static Dictionary<string, float[]> RandomState(IReadOnlyDictionary<string, float[]> like, Random r) =>
        like.ToDictionary(kv => kv.Key, kv => kv.Value.Select(_ => r.NextSingle()).ToArray());

    /// <summary>|actual − expected| ≤ abs + rel·|expected| at every index, else a message naming the first bad index.</summary>
    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double rel, double abs, string what)
    {
        if (expected.Length != actual.Length)
            throw new XunitException($"{what}: expected {expected.Length} values, got {actual.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            if (!(Math.Abs(a - e) <= abs + rel * Math.Abs(e)))
                throw new XunitException($"{what}[{i}]: expected {e:R}, got {a:R} (rel {rel}, abs {abs})");
        }
    }

    public static void AssertSame(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        if (expected.Length != actual.Length)
            throw new XunitException($"{what}: expected {expected.Length} values, got {actual.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                throw new XunitException($"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R} (bitwise)");
        }
    }

    /// <summary>Every optimizer, by name, as a factory over a parameter list.</summary>
    public static readonly (string Name, Func<IReadOnlyList<Parameter>, Optimizer> Create)[] All =
    [
        ("SGD", ps => new Sgd(ps, 0.1f)),
        ("SGD momentum", ps => new Sgd(ps, 0.1f, momentum: 0.9f)),
        ("SGD Nesterov", ps => new Sgd(ps, 0.1f, momentum: 0.9f, nesterov: true)),
        ("Adagrad", ps => new Adagrad(ps, 0.1f, initialAccumulator: 0.1f)),
        ("Adam", ps => new Adam(ps, 0.01f)),
        ("AdamW", ps => new Adam(ps, 0.01f, decoupledWeightDecay: 0.1f)),
        ("FTRL", ps => new Ftrl(ps, alpha: 0.1f, beta: 1f, l1: 0.01f, l2: 0.1f)),
        ("Ranger", ps => new Ranger(ps, 0.01f, k: 3)),
        ("Grouped", ps => GroupedOptimizer.Split(ps,
            (p => p.IsSparse, q => new Adagrad(q, 0.05f)),
            (_ => true, q => new Adam(q, 0.01f)))),
    ];

    public static Arbitrary<int> OptimizerArb => Gen.Choose(0, All.Length - 1).ToArbitrary();

    /// <summary>
    /// Runs <paramref name="create"/>'s optimizer on one dense parameter "w" of length <paramref name="n"/> for
    /// <paramref name="steps"/> steps of random gradients (learning rate from <see cref="LearningRateAt"/>, L2 λ = l2) and
    /// the float64 <paramref name="reference"/> beside it, from the same start, then compares w and every state slot.
    /// The reference receives (t, lr, w, g + λ·w, slots by name).
    /// </summary>
    public static bool AgreesWithReference(
        int n, int seed, float lr0, Func<IReadOnlyList<Parameter>, Optimizer> create,
        Action<long, double, double[], double[], Dictionary<string, double[]>> reference,
        double rel, double abs, int steps = 6, float l2 = 0f)
    {
        var r = new Random(seed);
        var p = Dense("w", [n], r);
        p.L2 = l2;
        var opt = create([p]);
        var w = ToDouble(p.Value);
        var slots = opt.State.ToDictionary(kv => kv.Key["w/".Length..], kv => ToDouble(kv.Value));
        for (long t = 1; t <= steps; t++)
        {
            float lr = LearningRateAt(lr0, t);
            opt.LearningRate = lr;
            RandomFloats(r, n).CopyTo(p.Grad, 0);
            var g = new double[n];
            for (int i = 0; i < n; i++) g[i] = p.Grad[i] + (double)l2 * w[i];
            opt.Step();
            reference(t, lr, w, g, slots);
        }
        AssertClose(w, p.Value, rel, abs, $"w (n {n}, seed {seed})");
        foreach (var (slot, expected) in slots)
            AssertClose(expected, opt.State["w/" + slot], rel, abs, $"{slot} (n {n}, seed {seed})");
        return true;
    }

    /// <summary>The optimizers that update elementwise (all but the composite), for the sparse-versus-dense checks.</summary>
    public static IEnumerable<(string Name, Func<IReadOnlyList<Parameter>, Optimizer> Create)> Elementwise =>
        All.Where(o => o.Name != "Grouped");

    /// <summary>
    /// One step of an embedding table [rows; dim] with a sparse gradient on some rows (all of them, in a random order,
    /// when <paramref name="allRows"/>) against the same table as a dense parameter whose gradient is those rows
    /// scattered into zeros, from one random state, with L2 λ = 0.1. Touched rows (values and state) must agree bitwise
    /// (one kernel, no fused multiply-add, so the vector width does not matter); the table's untouched rows and their
    /// state must not move.
    /// </summary>
    public static bool SparseStepMatchesDense(Func<IReadOnlyList<Parameter>, Optimizer> create, int seed, bool allRows)
    {
        var r = new Random(seed);
        int rows = 1 + r.Next(12);
        int dim = Lengths[1 + r.Next(Lengths.Length - 1)];
        var table = Table("emb", rows, dim, r);
        table.L2 = 0.1f;
        var dense = new Parameter("emb", [rows, dim]) { L2 = 0.1f };
        table.Value.CopyTo(dense.Value, 0);
        var sparseOpt = create([table]);
        var denseOpt = create([dense]);
        var state = RandomState(sparseOpt.State, r);
        // Lookahead's invariant: a row untouched since the last sync equals its slow copy.
        if (state.TryGetValue("emb/slow", out var slow)) table.Value.CopyTo(slow, 0);
        long t0 = r.Next(1, 8);
        sparseOpt.LoadState(state, t0);
        denseOpt.LoadState(state, t0);
        var valueBefore = (float[])table.Value.Clone();

        var touched = Enumerable.Range(0, rows).Where(_ => allRows || r.Next(2) == 0).OrderBy(_ => r.Next()).ToArray();
        SetRows(table, touched, r);
        for (int s = 0; s < touched.Length; s++)
            table.SparseGrad!.Row(s).CopyTo(dense.Grad.AsSpan(touched[s] * dim, dim));
        sparseOpt.Step();
        denseOpt.Step();

        for (int row = 0; row < rows; row++)
        {
            string where = $"seed {seed}, t {t0 + 1}, [{rows}; {dim}], row {row}";
            bool isTouched = touched.Contains(row);
            var expected = isTouched ? dense.Value : valueBefore;
            AssertSame(expected.AsSpan(row * dim, dim), table.Value.AsSpan(row * dim, dim), $"value ({where})");
            foreach (var (key, values) in sparseOpt.State)
            {
                var expectedState = isTouched ? denseOpt.State[key] : state[key];
                AssertSame(expectedState.AsSpan(row * dim, dim), values.AsSpan(row * dim, dim), $"{key} ({where})");
            }
        }
        return true;
    }
}
