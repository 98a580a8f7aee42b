using CtrDsl.Cpu;
using CtrDsl.Ops;
using CtrDsl.Tests.Support;
using FsCheck.Fluent;
using Xunit;
using R = CtrDsl.Tests.Reference.Reference;

namespace CtrDsl.Tests.Ops;

/// <summary>The CPU FEFM kernel's every path (16 and 8 samples per vector, and the plain loops) against float64 rules
/// for y, dx and dU, on batches around the vector widths, with the buffers' neighbours untouched and the same bits
/// at one and two threads. Serial: it sets the kernel's lane count and the pool's thread count for the process.</summary>
[Collection(Serial.Name)]
public class FefmKernelTests
{
    private static readonly FsCheck.Gen<(int batch, int fields, int dim, int seed)> Cases =
        from batch in Sizes.Of(1, 7, 8, 9, 16, 17, 33)
        from fields in Sizes.Of(2, 3, 5, 9)
        from dim in Sizes.Of(1, 3, 4, 5, 10, 17)
        from seed in Gen.Choose(0, 1_000_000)
        select (batch, fields, dim, seed);

    [Fact]
    public void Fefm_EveryVectorWidth_MatchesFloat64Rules_AndIsThreadCountInvariant()
    {
        var widths = new[] { 16, 8, 0 }.Where(w => w <= CpuBackend.PairwiseInnerJob.Width).ToArray();
        Sizes.Check(Cases, c =>
        {
            foreach (var w in widths) Check(c, w);
        }, count: 30);
    }

    private static void Check((int batch, int fields, int dim, int seed) c, int width)
    {
        int pairs = FieldInteraction.Pairs(c.fields), n = c.batch * c.fields * c.dim, m = c.batch * pairs, k = pairs * c.dim * c.dim;
        var rng = new Random(c.seed);
        float[] Random(int count) => Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var (x, u, dy, dx0, du0) = (Random(n), Random(k), Random(m), Random(n), Random(k));
        var want = R.Fefm(x.Select(v => (double)v).ToArray(), u.Select(v => (double)v).ToArray(), c.batch, c.fields, c.dim);
        var wantDx = dx0.Select(v => (double)v).ToArray();
        var wantDu = du0.Select(v => (double)v).ToArray();
        for (int b = 0; b < c.batch; b++)
            for (int i = 0, p = 0; i < c.fields; i++)
                for (int j = i + 1; j < c.fields; j++, p++)
                    for (int a = 0; a < c.dim; a++)
                        for (int e = 0; e < c.dim; e++)
                        {
                            double g = dy[b * pairs + p], xi = x[(b * c.fields + i) * c.dim + a], xj = x[(b * c.fields + j) * c.dim + e];
                            double w = (double)u[(p * c.dim + a) * c.dim + e] + u[(p * c.dim + e) * c.dim + a];
                            wantDx[(b * c.fields + i) * c.dim + a] += g * w * xj;
                            wantDx[(b * c.fields + j) * c.dim + e] += g * w * xi;
                            // y = Σ x_i[a] (U[a, e] + U[e, a]) x_j[e]: both entries of U get g·x_i[a]·x_j[e].
                            wantDu[(p * c.dim + a) * c.dim + e] += g * xi * xj;
                            wantDu[(p * c.dim + e) * c.dim + a] += g * xi * xj;
                        }

        const int margin = 19;
        const float sentinel = -777f;
        (float[] y, float[] dx, float[] du) Run(int threads)
        {
            int saved = WorkerPool.ThreadCount, savedWidth = CpuBackend.FefmJob.Width;
            WorkerPool.ThreadCount = threads;
            CpuBackend.FefmJob.Width = width;
            try
            {
                var backend = new CpuBackend();
                float[] Padded(int count, float[]? inner)
                {
                    var a = Enumerable.Repeat(sentinel, count + 2 * margin).ToArray();
                    inner?.CopyTo(a, margin);
                    return a;
                }
                var (y, dx, du) = (Padded(m, null), Padded(n, dx0), Padded(k, du0));
                var xv = backend.Bind(x).All;
                var uv = backend.Bind(u).All;
                backend.Fefm(c.batch, c.fields, c.dim, xv, uv, backend.Bind(y).All.Slice(margin, m));
                backend.FefmBackward(c.batch, c.fields, c.dim, xv, uv, backend.Bind(dy).All,
                    backend.Bind(dx).All.Slice(margin, n), backend.Bind(du).All.Slice(margin, k));
                return (y, dx, du);
            }
            finally
            {
                WorkerPool.ThreadCount = saved;
                CpuBackend.FefmJob.Width = savedWidth;
            }
        }
        var (y1, dx1, du1) = Run(1);
        var (y2, dx2, du2) = Run(2);
        foreach (var (buffer, length, what) in new[] { (y1, m, "y"), (dx1, n, "dx"), (du1, k, "du") })
            for (int q = 0; q < margin; q++)
            {
                Assert.True(buffer[q] == sentinel, $"{what}[{q - margin}] written (width {width}, {c})");
                Assert.True(buffer[margin + length + q] == sentinel, $"{what}[{length + q}] written (width {width}, {c})");
            }
        OpCheck.Compare($"fefm y (width {width}, {c})", want, y1.AsSpan(margin, m), 1e-4, 1e-5);
        OpCheck.Compare($"fefm dx (width {width}, {c})", wantDx, dx1.AsSpan(margin, n), 1e-4, 1e-5);
        OpCheck.Compare($"fefm du (width {width}, {c})", wantDu, du1.AsSpan(margin, k), 1e-4, 1e-5);
        Assert.Equal(y1, y2);
        Assert.Equal(dx1, dx2);
        Assert.Equal(du1, du2);
    }
}
