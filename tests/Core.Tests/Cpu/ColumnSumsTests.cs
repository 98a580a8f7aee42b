using CtrDsl.Backends;
using CtrDsl.Cpu;
using CtrDsl.Tests.Support;
using Xunit;

namespace CtrDsl.Tests.Cpu;

// Changes WorkerPool.ThreadCount, so it runs apart from the other tests that do.
[Collection(Serial.Name)]
public class ColumnSumsTests
{
    public static TheoryData<int, int, bool> Shapes => new()
    {
        { 1, 1, false }, { 5, 3, true }, { 127, 17, false }, { 128, 16, true }, { 129, 33, true }, { 1000, 37, false },
        { 4096, 400, true }, { 300, 1, true }, { 2000, 1, false },
    };

    private static float[] Random(int n, int seed, float zeros = 0f)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => rng.NextDouble() < zeros ? 0f : (float)(rng.NextDouble() * 2 - 1)).ToArray();
    }

    // The fused ReLU mask with its bias gradient, against the separate ops (the ReLU's backward, then ReduceAxis over
    // the masked gradient): the same bits, on 1, 2 and 3 threads, overwriting or adding to the old bias gradient; and
    // the bias gradient within float32 rounding of a float64 sum.
    [Theory, MemberData(nameof(Shapes))]
    public void ReluMask_BiasGradient_IsReduceAxisOverTheMaskedGradient_OnAnyThreads(int rows, int cols, bool accumulate)
    {
        var b = new CpuBackend();
        var y = Random(rows * cols, 1, zeros: 0.3f);
        var dy = Random(rows * cols, 2);
        var db0 = Random(cols, 3);

        (float[] dy, float[] db) Fused(int threads) => PoolThreads.Run(threads, () =>
        {
            var g = (float[])dy.Clone();
            var db = (float[])db0.Clone();
            b.ReluMaskBackward(rows, cols, b.Bind(y).All, b.Bind(g).All, b.Bind(db).All, accumulate);
            return (g, db);
        });
        (float[] dy, float[] db) Separate(int threads) => PoolThreads.Run(threads, () =>
        {
            var g = new float[rows * cols];
            var db = (float[])db0.Clone();
            b.UnaryBackward(UnaryFn.Relu, b.Bind(y).All, b.Bind(y).All, b.Bind(dy).All, b.Bind(g).All, accumulate: true);
            b.ReduceAxis(1, rows, cols, 1f, b.Bind(g).All, b.Bind(db).All, accumulate);
            return (g, db);
        });

        var (gOne, dbOne) = Fused(1);
        for (int threads = 1; threads <= 3; threads++)
        {
            var (g, db) = Fused(threads);
            var (gs, dbs) = Separate(threads);
            Assert.Equal(gOne, g);
            Assert.Equal(dbOne, db);
            Assert.Equal(g, gs);
            Assert.Equal(db, dbs);
        }
        for (int j = 0; j < cols; j++)
        {
            double sum = accumulate ? db0[j] : 0.0, magnitude = Math.Abs(sum);
            for (int r = 0; r < rows; r++)
            {
                double v = y[r * cols + j] > 0f ? dy[r * cols + j] : 0.0;
                Assert.Equal(v, gOne[r * cols + j]);
                sum += v;
                magnitude += Math.Abs(v);
            }
            Assert.True(Math.Abs(dbOne[j] - sum) <= 1e-5 * magnitude + 1e-30, $"column {j}: {dbOne[j]} against {sum}");
        }
    }
}
