using CtrDsl.Backends;
using CtrDsl.Cpu;
using CtrDsl.Tests.Support;
using Xunit;

namespace CtrDsl.Tests.Cpu;

/// <summary>
/// Kernels that split large calls over the pool (pointwise functions, row copies, fills): the split result must equal
/// the same kernel on one thread bit for bit, and the element-by-element definition.
/// </summary>
[Collection(Serial.Name)]
public class LargeKernelTests
{
    private const int N = 300_007; // over the 2 × 64 Ki split threshold, and not a multiple of a chunk

    private static float[] Random(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 6 - 3)).ToArray();
    }

    private static T OnThreads<T>(int threads, Func<T> f)
    {
        int saved = WorkerPool.ThreadCount;
        WorkerPool.ThreadCount = threads;
        try { return f(); }
        finally { WorkerPool.ThreadCount = saved; }
    }

    [Theory]
    [InlineData(UnaryFn.Relu)]
    [InlineData(UnaryFn.Tanh)]
    [InlineData(UnaryFn.Sigmoid)]
    public void LargeUnary_AndItsBackward_EqualOneThread_AndTheDefinition(UnaryFn fn)
    {
        var b = new CpuBackend();
        var x = Random(N, 1);
        var dy = Random(N, 2);
        (float[] y, float[] dx) Run()
        {
            var y = new float[N];
            var dx = Random(N, 3);
            b.Unary(fn, b.Bind(x).All, b.Bind(y).All);
            b.UnaryBackward(fn, b.Bind(x).All, b.Bind(y).All, b.Bind(dy).All, b.Bind(dx).All, accumulate: true);
            return (y, dx);
        }
        var (y1, dx1) = OnThreads(1, Run);
        var (y2, dx2) = OnThreads(2, Run);
        Assert.Equal(y1, y2);
        Assert.Equal(dx1, dx2);
        var dx0 = Random(N, 3);
        for (int i = 0; i < N; i += 997)
        {
            double want = fn switch { UnaryFn.Relu => Math.Max(x[i], 0), UnaryFn.Tanh => Math.Tanh(x[i]), _ => 1 / (1 + Math.Exp(-x[i])) };
            Assert.True(Math.Abs(y2[i] - want) <= 1e-5, $"{fn}({x[i]}) = {y2[i]}, expected {want}");
            double slope = fn switch { UnaryFn.Relu => y2[i] > 0 ? 1 : 0, UnaryFn.Tanh => 1 - y2[i] * y2[i], _ => y2[i] * (1 - y2[i]) };
            Assert.True(Math.Abs(dx2[i] - (dx0[i] + dy[i] * slope)) <= 1e-5, $"{fn}' at {i}");
        }
        // Overwriting: the same bits as adding into zeros, whatever dx held.
        var written = Random(N, 4);
        var added = new float[N];
        b.UnaryBackward(fn, b.Bind(x).All, b.Bind(y2).All, b.Bind(dy).All, b.Bind(written).All, accumulate: false);
        b.UnaryBackward(fn, b.Bind(x).All, b.Bind(y2).All, b.Bind(dy).All, b.Bind(added).All, accumulate: true);
        Assert.Equal(added, written);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LargeRowCopy_EqualsOneThread_AndTheDefinition(bool accumulate)
    {
        const int rows = 4099, width = 97, xStride = 101, yStride = 230;
        var b = new CpuBackend();
        var x = Random(rows * xStride, 4);
        float[] Run()
        {
            var y = Random(rows * yStride, 5);
            b.CopyRows(rows, width, b.Bind(x).All, xStride, b.Bind(y).All, yStride, accumulate);
            return y;
        }
        var one = OnThreads(1, Run);
        var two = OnThreads(2, Run);
        Assert.Equal(one, two);
        var before = Random(rows * yStride, 5);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < yStride; j++)
            {
                float want = j < width ? (accumulate ? before[r * yStride + j] + x[r * xStride + j] : x[r * xStride + j]) : before[r * yStride + j];
                Assert.Equal(want, two[r * yStride + j]);
            }
    }

    [Fact]
    public void LargeFill_WritesEveryElement()
    {
        var b = new CpuBackend();
        var y = Random(N, 6);
        OnThreads(2, () => { b.Fill(b.Bind(y).All, 0.5f); return 0; });
        Assert.All(y, v => Assert.Equal(0.5f, v));
    }
}
