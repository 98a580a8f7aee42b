using CtrDsl.Backends;
using CtrDsl.Cpu;
using CtrDsl.Ops;
using CtrDsl.Tensors;
using CtrDsl.Tests.Support;
using FsCheck.Fluent;
using Xunit;
using R = CtrDsl.Tests.Reference.Reference;

namespace CtrDsl.Tests.Ops;

public class MaskedPoolTests
{
    private static readonly FsCheck.Gen<(int batch, int len, int dim, SequencePooling pooling, int seed)> Cases =
        from batch in Sizes.Of(Sizes.Batches)
        from len in Sizes.Of(Sizes.Small)
        from dim in Sizes.Of(Sizes.Awkward)
        from pooling in Gen.Elements(SequencePooling.Sum, SequencePooling.Mean, SequencePooling.Max)
        from seed in Gen.Choose(0, 1_000_000)
        select (batch, len, dim, pooling, seed);

    [Fact]
    public void MaskedPool_MatchesReference_AndFiniteDifferences_WithPadding() =>
        // Ids from [−1, 3): about a third of the positions pad, and short rows are often all padding.
        Sizes.Check(Cases, c => OpCheck.Run(() => new MaskedPool(c.pooling),
            [new([c.len, c.dim]), new([c.len], IdRange: 3, Pad: -1)], c.batch,
            (v, b) => R.MaskedPool(v[0], v[1], b, c.len, c.dim, c.pooling), c.seed));

    /// <summary>y and dx for a batch of one sequence, run on the CPU backend's kernels.</summary>
    private static (float[] y, float[] dx) Pool(SequencePooling pooling, float[] x, int[] ids, int dim, float[] dy)
    {
        var b = new CpuBackend();
        int len = ids.Length;
        var xs = b.Allocate(x.Length, DType.Float32);
        var id = b.Allocate(len, DType.Int32);
        var y = b.Allocate(dim, DType.Float32);
        var g = b.Allocate(dim, DType.Float32);
        var dx = b.Allocate(x.Length, DType.Float32);
        b.Upload(x, xs.All);
        b.Upload(ids, id.All);
        b.Upload(dy, g.All);
        b.Upload(new float[x.Length], dx.All);
        b.MaskedPool(1, len, dim, pooling, xs.All, id.All, y.All);
        b.MaskedPoolBackward(1, len, dim, pooling, xs.All, id.All, g.All, dx.All);
        var (yo, dxo) = (new float[dim], new float[x.Length]);
        b.Download(y.All, yo);
        b.Download(dx.All, dxo);
        return (yo, dxo);
    }

    [Fact]
    public void AppendedPadding_NeverChangesTheOutput_WhateverItsValues() =>
        Sizes.Check(Cases, c =>
        {
            var rng = new Random(c.seed);
            float Next() => (float)(rng.NextDouble() * 2 - 1);
            var ids = Enumerable.Range(0, c.len).Select(_ => rng.Next(-1, 3)).ToArray();
            var x = Enumerable.Range(0, c.len * c.dim).Select(_ => Next()).ToArray();
            var dy = Enumerable.Range(0, c.dim).Select(_ => Next()).ToArray();
            int extra = 1 + rng.Next(4);
            // Padding holds values that would win a max or dominate a sum if they were read: ±1e30.
            var padded = x.Concat(Enumerable.Range(0, extra * c.dim).Select(i => i % 2 == 0 ? 1e30f : -1e30f)).ToArray();
            var (y, dx) = Pool(c.pooling, x, ids, c.dim, dy);
            var (yp, dxp) = Pool(c.pooling, padded, [.. ids, .. Enumerable.Repeat(-1, extra)], c.dim, dy);
            Assert.Equal(y, yp);
            Assert.Equal(dx, dxp[..x.Length]);
            Assert.All(dxp[x.Length..], v => Assert.Equal(0f, v));
        });

    [Theory]
    [InlineData(SequencePooling.Sum)]
    [InlineData(SequencePooling.Mean)]
    [InlineData(SequencePooling.Max)]
    public void AnAllPaddingRow_GivesZero_AndNoGradient(SequencePooling pooling)
    {
        var (y, dx) = Pool(pooling, [5f, -7f, 9f, 3f], [-1, -1], 2, [1f, 1f]);
        Assert.Equal(new float[2], y);
        Assert.Equal(new float[4], dx);
    }

    [Fact]
    public void Max_IgnoresALargerPaddedValue_AndRoutesTheGradientToTheFirstMaximumOnTies()
    {
        // dim 1: valid positions 0 (2), 2 (2), padded position 1 (100).
        var (y, dx) = Pool(SequencePooling.Max, [2f, 100f, 2f], [4, -1, 0], 1, [3f]);
        Assert.Equal(new[] { 2f }, y);
        Assert.Equal(new[] { 3f, 0f, 0f }, dx);
    }
}
