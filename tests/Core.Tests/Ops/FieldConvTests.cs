using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Ops;
using CtrDsl.Tensors;
using CtrDsl.Tests.Support;
using FsCheck.Fluent;
using Xunit;
using R = CtrDsl.Tests.Reference.Reference;

namespace CtrDsl.Tests.Ops;

public class FieldConvTests
{
    [Fact]
    public void FieldConv_MatchesReference_AndFiniteDifferences()
    {
        var gen = from batch in Sizes.Of(1, 2, 3)
                  // Four-channel blocks with remainders both ways (the input gradient runs the forward kernel with the
                  // channel roles swapped), and planes of whole and partial 16- and 64-wide vectors.
                  from cin in Sizes.Of(1, 2, 3, 5)
                  from cout in Sizes.Of(1, 2, 4, 6)
                  from fields in Sizes.Of(1, 2, 5, 9, 13)
                  from dim in Sizes.Of(1, 3, 8, 16, 17)
                  from h in Sizes.Of(1, 2, 3, 4, 7)
                  from seed in Gen.Choose(0, 1_000_000)
                  select (batch, cin, cout, fields, dim, h, seed);
        Sizes.Check(gen, c => OpCheck.Run(() => new FieldConv(),
            [new([c.cin, c.fields, c.dim]), new([c.cout, c.cin, c.h], Batched: false), new([c.cout], Batched: false)], c.batch,
            (v, b) => R.FieldConv(v[0], v[1], v[2], b, c.cin, c.cout, c.fields, c.dim, c.h), c.seed));
    }

    [Fact]
    public void FieldMaxPool_MatchesReference_AndFiniteDifferences()
    {
        var gen = from batch in Sizes.Of(1, 2, 3)
                  from channels in Sizes.Of(1, 2, 3)
                  from fields in Sizes.Of(2, 3, 5, 7, 9)
                  from dim in Sizes.Of(1, 3, 8, 17)
                  from p in Sizes.Of(1, 2, 3)
                  from ceil in Gen.Elements(true, false)
                  from seed in Gen.Choose(0, 1_000_000)
                  where FieldMaxPool.OutFields(fields, p, ceil ? PoolRounding.Ceil : PoolRounding.Floor) >= 1
                  select (batch, channels, fields, dim, p, ceil, seed);
        Sizes.Check(gen, c => OpCheck.Run(() => new FieldMaxPool(c.p, c.ceil ? PoolRounding.Ceil : PoolRounding.Floor),
            [new([c.channels, c.fields, c.dim])], c.batch,
            (v, b) => R.FieldMaxPool(v[0], b, c.channels, c.fields, c.dim, c.p, c.ceil), c.seed));
    }

    [Fact]
    public void FieldMaxPool_OnTies_RoutesTheGradientToTheFirstMaximum() => CheckTies(new CtrDsl.Cpu.CpuBackend());

    /// <summary>
    /// Max-pooling on <paramref name="backend"/> with inputs drawn from {−1, −0, 0, 1} (and sometimes NaN), so windows
    /// often hold equal maxima: y must be the value of the reference arg-max row (bit for bit) and the backward pass must
    /// add dy to exactly that row of dx, leaving the rest of dx's starting values as they were (or, overwriting, write
    /// dy there and zero everywhere else).
    /// </summary>
    internal static void CheckTies(IBackend backend) => Sizes.Check(
        from batch in Sizes.Of(1, 2, 3)
        from channels in Sizes.Of(1, 2)
        from fields in Sizes.Of(1, 2, 3, 4, 5, 7, 9)
        from dim in Sizes.Of(1, 3, 8, 9, 10, 17, 33)
        from p in Sizes.Of(1, 2, 3, 4)
        from ceil in Gen.Elements(true, false)
        from nans in Gen.Elements(false, false, true)
        from accumulate in Gen.Elements(true, false)
        from seed in Gen.Choose(0, 1_000_000)
        where FieldMaxPool.OutFields(fields, p, ceil ? PoolRounding.Ceil : PoolRounding.Floor) >= 1
        select (batch, channels, fields, dim, p, ceil, nans, accumulate, seed),
        c =>
        {
            var rng = new Random(c.seed);
            float[] levels = c.nans ? [-1f, -0f, 0f, 1f, float.NaN] : [-1f, -0f, 0f, 1f];
            float[] Random(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            int outFields = FieldMaxPool.OutFields(c.fields, c.p, c.ceil ? PoolRounding.Ceil : PoolRounding.Floor);
            int inN = c.batch * c.channels * c.fields * c.dim, outN = c.batch * c.channels * outFields * c.dim;
            var x = Enumerable.Range(0, inN).Select(_ => levels[rng.Next(levels.Length)]).ToArray();
            var (dy, dx0) = (Random(outN), Random(inN));

            BufferView Put(float[] host) { var d = backend.Allocate(host.Length, DType.Float32); backend.Upload(host, d.All); return d.All; }
            var (bx, by, bdy, bdx) = (Put(x), Put(new float[outN]), Put(dy), Put(dx0));
            backend.FieldMaxPool(c.batch, c.channels, c.fields, c.dim, c.p, outFields, bx, by);
            backend.FieldMaxPoolBackward(c.batch, c.channels, c.fields, c.dim, c.p, outFields, bx, by, bdy, bdx, c.accumulate);
            var (y, dx) = (new float[outN], new float[inN]);
            backend.Download(by, y);
            backend.Download(bdx, dx);

            var rows = R.FieldMaxPoolArgmax(x.Select(v => (double)v).ToArray(), c.batch, c.channels, c.fields, c.dim, c.p, c.ceil);
            var wantDx = c.accumulate ? (float[])dx0.Clone() : new float[inN];
            for (int i = 0; i < outN; i++)
            {
                int k = i % c.dim, bc = i / (c.dim * outFields), at = (bc * c.fields + rows[i]) * c.dim + k;
                if (BitConverter.SingleToInt32Bits(y[i]) != BitConverter.SingleToInt32Bits(x[at]))
                    throw new Xunit.Sdk.XunitException($"max-pool forward {c}: y[{i}] = {y[i]}, want x[{at}] = {x[at]} (row {rows[i]})");
                wantDx[at] += dy[i];
            }
            for (int j = 0; j < inN; j++)
                if (BitConverter.SingleToInt32Bits(dx[j]) != BitConverter.SingleToInt32Bits(wantDx[j]))
                    throw new Xunit.Sdk.XunitException($"max-pool backward {c}: dx[{j}] = {dx[j]:G9}, want {wantDx[j]:G9}");
        }, count: 60);

    [Fact]
    public void FieldMaxPool_ThrowsClearly_WhenTooFewFields()
    {
        var g = new ExprGraph();
        var x = g.Apply(new Lift(), g.Parameter(new Parameter("x", [1, 3, 1, 4])));
        var e = Assert.Throws<ShapeException>(() => g.Apply(new FieldMaxPool(2), x));
        Assert.Contains("too few fields for pooling", e.Message);
    }
}

[Xunit.Collection(CtrDsl.Tests.Support.Serial.Name)]
public class FieldConvThreadTests
{
    [Fact]
    public void FieldConvBackward_GivesTheSameBits_OnOneAndTwoThreads()
    {
        float[] Run(int threads)
        {
            int saved = CtrDsl.Cpu.WorkerPool.ThreadCount;
            CtrDsl.Cpu.WorkerPool.ThreadCount = threads;
            try
            {
                var b = new CtrDsl.Cpu.CpuBackend();
                var rng = new Random(3);
                float[] R(int n) => Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
                int batch = 50, cin = 3, cout = 4, fields = 9, dim = 5, h = 3;
                var x = b.Bind(R(batch * cin * fields * dim)); var w = b.Bind(R(cout * cin * h));
                var dy = b.Bind(R(batch * cout * fields * dim));
                var dx = b.Bind(new float[batch * cin * fields * dim]); var dw = b.Bind(new float[cout * cin * h]); var db = b.Bind(new float[cout]);
                b.FieldConvBackward(batch, cin, cout, fields, dim, h, x.All, w.All, dy.All, dx.All, dw.All, db.All, accumulateDx: true);
                return ((CtrDsl.Cpu.CpuFloatBuffer)dw).Data.Concat(((CtrDsl.Cpu.CpuFloatBuffer)db).Data).Concat(((CtrDsl.Cpu.CpuFloatBuffer)dx).Data).ToArray();
            }
            finally { CtrDsl.Cpu.WorkerPool.ThreadCount = saved; }
        }
        Assert.Equal(Run(1), Run(2));
    }

    [Fact]
    public void FefmAndPairwiseInnerBackward_GiveTheSameBits_OnOneAndTwoThreads()
    {
        float[] Run(int threads)
        {
            int saved = CtrDsl.Cpu.WorkerPool.ThreadCount;
            CtrDsl.Cpu.WorkerPool.ThreadCount = threads;
            try
            {
                var b = new CtrDsl.Cpu.CpuBackend();
                var rng = new Random(5);
                float[] R(int n) => Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
                int batch = 70, fields = 7, dim = 5, pairs = 21;
                var x = b.Bind(R(batch * fields * dim)); var u = b.Bind(R(pairs * dim * dim)); var dy = b.Bind(R(batch * pairs));
                var dx = b.Bind(new float[batch * fields * dim]); var du = b.Bind(new float[pairs * dim * dim]);
                b.FefmBackward(batch, fields, dim, x.All, u.All, dy.All, dx.All, du.All);
                b.PairwiseInnerBackward(batch, fields, dim, x.All, dy.All, dx.All);
                return ((CtrDsl.Cpu.CpuFloatBuffer)dx).Data.Concat(((CtrDsl.Cpu.CpuFloatBuffer)du).Data).ToArray();
            }
            finally { CtrDsl.Cpu.WorkerPool.ThreadCount = saved; }
        }
        Assert.Equal(Run(1), Run(2));
    }

    /// <summary>
    /// The blocked CPU kernels compute whole vectors past the end of a row and store only its part: run them on
    /// outputs followed by sentinels, with a gradient that accumulates onto random values, on planes whose last
    /// block is partial in each way (6, 8, 39, 40, 62 positions past the last whole 64), against float64 loops.
    /// The weight gradient sums a chunk of 16 samples at once in blocks of four channels by four taps: batches of 20
    /// and 33 end in a partial chunk, and FGCNN's first layer (1 → 14 channels, 7 taps) ends in partial blocks both ways.
    /// </summary>
    [Theory]
    [InlineData(3, 5, 6, 5, 8, 7)]
    [InlineData(3, 5, 9, 13, 3, 7)]
    [InlineData(3, 6, 5, 9, 8, 3)]
    [InlineData(3, 4, 8, 19, 10, 7)]
    [InlineData(3, 9, 4, 39, 10, 5)]
    [InlineData(20, 1, 14, 39, 10, 7)]
    [InlineData(33, 3, 6, 4, 10, 7)]
    public void FieldConv_CpuKernels_WriteOnlyTheirOutputs(int batch, int cin, int cout, int fields, int dim, int h)
    {
        CheckConvOutputs(batch, cin, cout, fields, dim, h, accumulateDx: true);
        CheckConvOutputs(batch, cin, cout, fields, dim, h, accumulateDx: false);
    }

    private static void CheckConvOutputs(int batch, int cin, int cout, int fields, int dim, int h, bool accumulateDx)
    {
        const int guard = 64;
        const float sentinel = 12345f;
        int plane = fields * dim, top = (h - 1) / 2, xn = batch * cin * plane, yn = batch * cout * plane, wn = cout * cin * h;
        var rng = new Random(cin * 1000 + plane);
        float[] Random(int n, int extra = 0) =>
            [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)), .. Enumerable.Repeat(sentinel, extra)];
        var (x, w, bias, dy, dx0, dw0, db0) = (Random(xn), Random(wn), Random(cout), Random(yn), Random(xn, guard), Random(wn, guard), Random(cout, guard));
        var y = Enumerable.Repeat(sentinel, yn + guard).ToArray();
        var dx = (float[])dx0.Clone();
        var dw = (float[])dw0.Clone();
        var db = (float[])db0.Clone();
        var b = new CtrDsl.Cpu.CpuBackend();
        b.FieldConv(batch, cin, cout, fields, dim, h, b.Bind(x).All, b.Bind(w).All, b.Bind(bias).All, b.Bind(y).All.Take(yn));
        b.FieldConvBackward(batch, cin, cout, fields, dim, h, b.Bind(x).All, b.Bind(w).All, b.Bind(dy).All,
            b.Bind(dx).All.Take(xn), b.Bind(dw).All.Take(wn), b.Bind(db).All.Take(cout), accumulateDx);

        double X(int bb, int c, int f, int k) => f < 0 || f >= fields ? 0 : x[((bb * cin + c) * fields + f) * dim + k];
        double DY(int bb, int o, int f, int k) => f < 0 || f >= fields ? 0 : dy[((bb * cout + o) * fields + f) * dim + k];
        void Near(string what, double want, float got)
        {
            if (Math.Abs(got - want) > 1e-4 * (1 + Math.Abs(want)))
                throw new Xunit.Sdk.XunitException($"{what}: want {want}, got {got} (batch {batch}, cin {cin}, cout {cout}, plane {plane}, h {h})");
        }
        double[] D(float[] v) => [.. v.Select(e => (double)e)];
        var wantY = R.FieldConv(D(x), D(w), D(bias), batch, cin, cout, fields, dim, h);
        for (int i = 0; i < yn; i++) Near($"y[{i}]", wantY[i], y[i]);
        for (int bb = 0; bb < batch; bb++)
            for (int f = 0; f < fields; f++)
                for (int k = 0; k < dim; k++)
                {
                    for (int c = 0; c < cin; c++)
                    {
                        int at = ((bb * cin + c) * fields + f) * dim + k;
                        double v = accumulateDx ? dx0[at] : 0;
                        for (int o = 0; o < cout; o++)
                            for (int t = 0; t < h; t++) v += w[(o * cin + c) * h + t] * DY(bb, o, f - t + top, k);
                        Near($"dx[{bb},{c},{f},{k}]", v, dx[at]);
                    }
                }
        for (int o = 0; o < cout; o++)
        {
            double sum = db0[o];
            for (int bb = 0; bb < batch; bb++)
                for (int f = 0; f < fields; f++)
                    for (int k = 0; k < dim; k++) sum += DY(bb, o, f, k);
            Near($"db[{o}]", sum, db[o]);
            for (int c = 0; c < cin; c++)
                for (int t = 0; t < h; t++)
                {
                    double v = dw0[(o * cin + c) * h + t];
                    for (int bb = 0; bb < batch; bb++)
                        for (int f = 0; f < fields; f++)
                            for (int k = 0; k < dim; k++) v += DY(bb, o, f, k) * X(bb, c, f + t - top, k);
                    Near($"dw[{o},{c},{t}]", v, dw[(o * cin + c) * h + t]);
                }
        }
        Assert.All(y[yn..], v => Assert.Equal(sentinel, v));
        Assert.All(dx[xn..], v => Assert.Equal(sentinel, v));
        Assert.All(dw[wn..], v => Assert.Equal(sentinel, v));
        Assert.All(db[cout..], v => Assert.Equal(sentinel, v));
    }

    /// <summary>
    /// Max-pooling with AVX-512 loads and stores each window row as masked 16-wide vectors: on rows of 10 (FGCNN's k),
    /// 16 and 33 columns, y and dx are followed by sentinels that must keep their bits, y must equal the reference's
    /// maximum and dx its starting values plus dy on the reference's arg-max row (overwriting: dy there, zero elsewhere).
    /// </summary>
    [Theory]
    [InlineData(14, 39, 10, 2, false)]
    [InlineData(3, 9, 16, 2, true)]
    [InlineData(2, 7, 33, 3, true)]
    public void FieldMaxPool_CpuKernels_WriteOnlyTheirOutputs(int channels, int fields, int dim, int p, bool ceil)
    {
        CheckPoolOutputs(channels, fields, dim, p, ceil, accumulate: true);
        CheckPoolOutputs(channels, fields, dim, p, ceil, accumulate: false);
    }

    private static void CheckPoolOutputs(int channels, int fields, int dim, int p, bool ceil, bool accumulate)
    {
        const int batch = 5, guard = 64;
        const float sentinel = 12345f;
        int outFields = FieldMaxPool.OutFields(fields, p, ceil ? PoolRounding.Ceil : PoolRounding.Floor);
        int inN = batch * channels * fields * dim, outN = batch * channels * outFields * dim;
        var rng = new Random(channels * 100 + dim);
        float[] Random(int n, int extra = 0) =>
            [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)), .. Enumerable.Repeat(sentinel, extra)];
        var (x, dy, dx0) = (Random(inN), Random(outN), Random(inN, guard));
        var y = Enumerable.Repeat(sentinel, outN + guard).ToArray();
        var dx = (float[])dx0.Clone();
        var b = new CtrDsl.Cpu.CpuBackend();
        b.FieldMaxPool(batch, channels, fields, dim, p, outFields, b.Bind(x).All, b.Bind(y).All.Take(outN));
        b.FieldMaxPoolBackward(batch, channels, fields, dim, p, outFields, b.Bind(x).All, b.Bind(y).All.Take(outN), b.Bind(dy).All,
            b.Bind(dx).All.Take(inN), accumulate);

        var want = R.FieldMaxPool([.. x.Select(v => (double)v)], batch, channels, fields, dim, p, ceil);
        var rows = R.FieldMaxPoolArgmax([.. x.Select(v => (double)v)], batch, channels, fields, dim, p, ceil);
        var wantDx = accumulate ? dx0[..inN] : new float[inN];
        for (int i = 0; i < outN; i++)
        {
            Assert.Equal((float)want[i], y[i]);
            int k = i % dim, bc = i / (dim * outFields);
            wantDx[(bc * fields + rows[i]) * dim + k] += dy[i];
        }
        Assert.Equal(wantDx, dx[..inN]);
        Assert.All(dx[inN..], v => Assert.Equal(sentinel, v));
        Assert.All(y[outN..], v => Assert.Equal(sentinel, v));
    }
}
