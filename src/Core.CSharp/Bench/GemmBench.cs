using System.Diagnostics;
using System.Globalization;
using CtrDsl.Backends;
using CtrDsl.Cpu;

namespace CtrDsl.Bench;

/// <summary>One measured GEMM shape: ours and (when OpenBLAS was found) cblas_sgemm, in GFLOP/s (2·m·k·n per call).</summary>
public readonly record struct GemmBenchRow(
    string Name, Transpose TransA, Transpose TransB, int M, int K, int N, int Threads,
    double Ours, double? OpenBlas, double? RatioLow = null, double? RatioHigh = null)
{
    public double? Ratio => OpenBlas is { } o ? Ours / o : null;
}

/// <summary>
/// Times <see cref="Gemm.Sgemm"/> against OpenBLAS's cblas_sgemm on the MLP shapes (m×k×n): the forward pass
/// Y = X·W, dX = dY·Wᵀ (NT) and dW = Xᵀ·dY (TN), with the same thread count for both, for the 400-wide hidden layers
/// and for first layers whose width (fields × k) is not a multiple of the tile: 390 = 39·10 (DeepFM, Wide&amp;Deep),
/// 130 = 13·10, 220 = 22·10, 624 = 39·16. Each figure is the median of timed calls after a warm-up of every shape
/// (<see cref="WarmUp"/>) and of the shape itself; the spread is the
/// lowest and highest ratio of the per-round medians (the rounds alternate ours and theirs).
/// </summary>
public static class GemmBench
{
    /// <summary>The shapes measured by default.</summary>
    public static IReadOnlyList<(string Name, Transpose TransA, Transpose TransB, int M, int K, int N)> Shapes { get; } =
    [
        ("Y=X·W", Transpose.No, Transpose.No, 4096, 400, 400),
        ("Y=X·W", Transpose.No, Transpose.No, 4096, 1200, 400),
        ("dX=dY·Wᵀ", Transpose.No, Transpose.Yes, 4096, 400, 400),
        ("dW=Xᵀ·dY", Transpose.Yes, Transpose.No, 400, 4096, 400),
        ("Y=X·W", Transpose.No, Transpose.No, 4096, 390, 400),
        ("dX=dY·Wᵀ", Transpose.No, Transpose.Yes, 4096, 400, 390),
        ("dW=Xᵀ·dY", Transpose.Yes, Transpose.No, 390, 4096, 400),
        ("Y=X·W", Transpose.No, Transpose.No, 4096, 130, 400),
        ("dX=dY·Wᵀ", Transpose.No, Transpose.Yes, 4096, 400, 130),
        ("dW=Xᵀ·dY", Transpose.Yes, Transpose.No, 130, 4096, 400),
        ("Y=X·W", Transpose.No, Transpose.No, 4096, 220, 400),
        ("dW=Xᵀ·dY", Transpose.Yes, Transpose.No, 220, 4096, 400),
        ("Y=X·W", Transpose.No, Transpose.No, 4096, 624, 400),
        ("dX=dY·Wᵀ", Transpose.No, Transpose.Yes, 4096, 400, 624),
        ("dW=Xᵀ·dY", Transpose.Yes, Transpose.No, 624, 4096, 400),
        ("Y=X·W", Transpose.No, Transpose.No, 4096, 11280, 400),
    ];

    /// <summary>Measures every shape of <see cref="Shapes"/> with <paramref name="threads"/> threads and prints a
    /// table (or one JSON object per line when <paramref name="json"/>). Restores <see cref="WorkerPool.ThreadCount"/>.</summary>
    public static IReadOnlyList<GemmBenchRow> Run(TextWriter output, int threads, bool json = false,
        double secondsPerShape = 0.6)
    {
        var blas = OpenBlas.TryLoad();
        if (!json)
        {
            output.WriteLine(blas is null
                ? "OpenBLAS not found (install libopenblas0-pthread for the oracle); printing our figures only."
                : $"OpenBLAS oracle: {blas.Path} ({blas.CoreName} kernels)");
            output.WriteLine($"threads = {threads}, GFLOP/s = 2·m·k·n / median time");
            output.WriteLine($"{"shape",-10} {"op",-3} {"m",6} {"k",6} {"n",6} {"ours",9} {"openblas",9} {"ratio",7} {"spread",11}");
        }
        var rows = new List<GemmBenchRow>();
        int saved = WorkerPool.ThreadCount;
        try
        {
            WorkerPool.ThreadCount = threads;
            blas?.SetThreads(threads);
            WarmUp();
            foreach (var (name, ta, tb, m, k, n) in Shapes)
            {
                var row = Measure(name, ta, tb, m, k, n, threads, blas, secondsPerShape);
                rows.Add(row);
                output.WriteLine(json ? ToJson(row) : ToLine(row));
            }
        }
        finally
        {
            WorkerPool.ThreadCount = saved;
        }
        return rows;
    }

    /// <summary>
    /// Runs our side of every shape in turn for at least <see cref="WarmUpSeconds"/>, then lets the runtime finish
    /// compiling. The JIT starts each method unoptimised and recompiles it, optimised, in the background once it has
    /// been called often enough (tiered compilation, with an instrumented tier between under TieredPGO); without this
    /// the first shape's rounds ran partly on that early code: NN 4096×400×400 read 0.76–0.80 of OpenBLAS in all five
    /// fresh-process readings of one compare.sh run, where the other shapes' medians read 0.97–1.19 (docs/benchmarks.md).
    /// OpenBLAS's native code never pays that cost, and a training run pays it only in its first steps.
    /// </summary>
    static void WarmUp()
    {
        var calls = new List<Action>();
        var rng = new Random(1);
        // Every path but the long-K shape's arrays (185 MB of A; its NN multi-K-block path is also k = 1200's).
        foreach (var (_, ta, tb, m, k, n) in Shapes.Where(s => (long)s.M * s.K <= 4096 * 1200))
        {
            var (a, b, c, lda, ldb) = Operands(rng, ta, tb, m, k, n);
            calls.Add(() => Gemm.Sgemm(ta, tb, m, n, k, 1f, a, lda, b, ldb, 0f, c, n));
        }
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < WarmUpSeconds)
            foreach (var call in calls) call();
        Thread.Sleep(250);
    }

    const double WarmUpSeconds = 1.5;

    /// <summary>Random op(A) [m; k] and op(B) [k; n] stored as <paramref name="ta"/>, <paramref name="tb"/> say, with
    /// their leading dimensions, and C [m; n].</summary>
    static (float[] A, float[] B, float[] C, int Lda, int Ldb) Operands(Random rng, Transpose ta, Transpose tb, int m, int k, int n) =>
        (Random(rng, m * k), Random(rng, k * n), new float[m * n], ta == Transpose.No ? k : m, tb == Transpose.No ? n : k);

    static GemmBenchRow Measure(string name, Transpose ta, Transpose tb, int m, int k, int n, int threads,
        OpenBlas? blas, double seconds)
    {
        var (a, b, c, lda, ldb) = Operands(new Random(1234), ta, tb, m, k, n);
        double flops = 2.0 * m * k * n;

        Action ourCall = () => Gemm.Sgemm(ta, tb, m, n, k, 1f, a, lda, b, ldb, 0f, c, n);
        Action? theirCall = blas is null ? null : () => blas.Sgemm(ta == Transpose.Yes, tb == Transpose.Yes, m, n, k,
            1f, a, lda, b, ldb, 0f, c, n);

        // Warm up, then alternate rounds of ours and theirs so that both see the same machine (others share these
        // cores); each figure is the median over all its timed calls.
        ourCall();
        double estimate = Time(ourCall);
        theirCall?.Invoke();
        int reps = (int)Math.Clamp(seconds / Rounds / Math.Max(estimate, 1e-6), 2, 50);
        var ours = new List<double>();
        var theirs = new List<double>();
        double low = double.MaxValue, high = 0;
        for (int round = 0; round < Rounds; round++)
        {
            var ourRound = new List<double>();
            for (int r = 0; r < reps; r++) ourRound.Add(Time(ourCall));
            ours.AddRange(ourRound);
            if (theirCall is null) continue;
            // OpenBLAS's threads spin for a while after a call: let them sleep before and after its round.
            Thread.Sleep(150);
            var theirRound = new List<double>();
            for (int r = 0; r < reps; r++) theirRound.Add(Time(theirCall));
            theirs.AddRange(theirRound);
            Thread.Sleep(150);
            double ratio = Median(theirRound) / Median(ourRound);
            low = Math.Min(low, ratio);
            high = Math.Max(high, ratio);
        }
        return theirCall is null
            ? new GemmBenchRow(name, ta, tb, m, k, n, threads, flops / Median(ours) / 1e9, null)
            : new GemmBenchRow(name, ta, tb, m, k, n, threads, flops / Median(ours) / 1e9, flops / Median(theirs) / 1e9,
                low, high);
    }

    const int Rounds = 4;

    static double Time(Action call)
    {
        long start = Stopwatch.GetTimestamp();
        call();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    static double Median(List<double> times)
    {
        times.Sort();
        return times[times.Count / 2];
    }

    static float[] Random(Random rng, int length)
    {
        var x = new float[length];
        for (int i = 0; i < length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    static string Op(GemmBenchRow r) => $"{(r.TransA == Transpose.No ? 'N' : 'T')}{(r.TransB == Transpose.No ? 'N' : 'T')}";

    static string ToLine(GemmBenchRow r) => string.Create(CultureInfo.InvariantCulture,
        $"{r.Name,-10} {Op(r),-3} {r.M,6} {r.K,6} {r.N,6} {r.Ours,9:F1} {(r.OpenBlas is { } o ? o.ToString("F1", CultureInfo.InvariantCulture) : "-"),9} {(r.Ratio is { } q ? q.ToString("F2", CultureInfo.InvariantCulture) : "-"),7} {(r.RatioLow is { } lo && r.RatioHigh is { } hi ? $"{lo:F2}–{hi:F2}" : "-"),11}");

    static string ToJson(GemmBenchRow r) => string.Create(CultureInfo.InvariantCulture,
        $"{{\"shape\":\"{r.Name}\",\"op\":\"{Op(r)}\",\"m\":{r.M},\"k\":{r.K},\"n\":{r.N},\"threads\":{r.Threads},\"ours_gflops\":{r.Ours:F2},\"openblas_gflops\":{(r.OpenBlas is { } o ? o.ToString("F2", CultureInfo.InvariantCulture) : "null")},\"ratio\":{(r.Ratio is { } q ? q.ToString("F3", CultureInfo.InvariantCulture) : "null")},\"ratio_low\":{(r.RatioLow is { } lo ? lo.ToString("F3", CultureInfo.InvariantCulture) : "null")},\"ratio_high\":{(r.RatioHigh is { } hi ? hi.ToString("F3", CultureInfo.InvariantCulture) : "null")}}}");
}
