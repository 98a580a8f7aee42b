using CtrDsl.Backends;
using CtrDsl.Cpu;
using Transpose = CtrDsl.Backends.Transpose;
using CtrDsl.Ops;
using CtrDsl.Tests.Support;
using FsCheck.Fluent;
using Xunit;
using TransposeOp = CtrDsl.Ops.Transpose;

namespace CtrDsl.Tests.OpenCl;

/// <summary>
/// Every op on the OpenCL backend against the CPU backend: forward outputs and all gradients through a plan compiled
/// on each, one property per op family, tolerance <see cref="Equivalence.Rtol"/> + <see cref="Equivalence.Atol"/>.
/// Shapes stay small (PoCL runs the kernels on the CPU) but include 1, primes and the vector widths ±1.
/// </summary>
[Collection(OpenClTestDevice.Collection)]
public class OpenClBackendTests
{
    /// <summary>An op and its operands for a size n and a field count f.</summary>
    public delegate (Func<Op> Op, Arg[] Args) Case(int n, int f);

    private static void Family(Case[] cases, int count = 16) =>
        Sizes.Check(
            from which in Gen.Choose(0, cases.Length - 1)
            from batch in Sizes.Of(Sizes.Batches)
            from n in Sizes.Of(1, 2, 3, 5, 7, 8, 9, 16, 17)
            from f in Sizes.Of(1, 2, 3, 5)
            from training in Gen.Elements(true, false)
            from seed in Gen.Choose(0, 1_000_000)
            select (which, batch, n, f, training, seed),
            c =>
            {
                var (op, args) = cases[c.which](c.n, c.f);
                Equivalence.Run(OpenClTestDevice.Backend, op, args, c.batch, c.seed, c.training);
            }, count);

    private static Case C(Func<Op> op, Func<int, int, Arg[]> args) => (n, f) => (op, args(n, f));

    // No op uses the bias+ReLU epilogue or k = 0 yet, so the GEMM is also checked through the backends directly,
    // on views that start inside their buffers and with leading dimensions wider than the rows.
    [OpenClFact]
    public void Gemm_WithEpiloguesOffsetsAndStrides_MatchesCpu() => Sizes.Check(
        from m in Sizes.Of(1, 2, 3, 7)
        from n in Sizes.Of(1, 2, 5, 9)
        from k in Sizes.Of(0, 1, 4, 17)
        from ta in Gen.Elements(Transpose.No, Transpose.Yes)
        from tb in Gen.Elements(Transpose.No, Transpose.Yes)
        from epilogue in Gen.Elements(GemmEpilogue.None, GemmEpilogue.Bias, GemmEpilogue.BiasRelu)
        from beta in Gen.Elements(0f, 1f, 0.5f)
        from pad in Sizes.Of(0, 3)
        from seed in Gen.Choose(0, 1_000_000)
        select (m, n, k, ta, tb, epilogue, beta, pad, seed),
        c =>
        {
            var rng = new Random(c.seed);
            int aRows = c.ta == Transpose.No ? c.m : c.k, aCols = c.ta == Transpose.No ? c.k : c.m;
            int bRows = c.tb == Transpose.No ? c.k : c.n, bCols = c.tb == Transpose.No ? c.n : c.k;
            int lda = aCols + c.pad, ldb = bCols + c.pad, ldc = c.n + c.pad, off = c.pad;
            float[] Random(int length) => Enumerable.Range(0, length).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            var (a, b, cc, bias) = (Random(off + aRows * lda), Random(off + bRows * ldb), Random(off + c.m * ldc), Random(c.n));
            float[] Run(IBackend backend)
            {
                BufferView Put(float[] host) { var d = backend.Allocate(host.Length, DType.Float32); backend.Upload(host, d.All); return d.All; }
                var (da, db, dc, dbias) = (Put(a), Put(b), Put(cc), Put(bias));
                backend.Gemm(c.ta, c.tb, c.m, c.n, c.k, 0.7f, da.Slice(off, da.Length - off), lda, db.Slice(off, db.Length - off), ldb,
                    c.beta, dc.Slice(off, dc.Length - off), ldc, c.epilogue == GemmEpilogue.None ? default : dbias, c.epilogue);
                var result = new float[cc.Length];
                backend.Download(dc, result);
                return result;
            }
            Equivalence.Compare($"gemm {c}", Run(new CpuBackend()), Run(OpenClTestDevice.Backend), Equivalence.Rtol, Equivalence.Atol);
        }, count: 30);

    [OpenClFact]
    public void Pointwise_MatchesCpu() => Family([
        C(() => new Relu(), (n, _) => [new([n])]),
        C(() => new Sigmoid(), (n, _) => [new([n])]),
        C(() => new Tanh(), (n, _) => [new([n])]),
        C(() => new Add(), (n, _) => [new([n]), new([n])]),
        C(() => new Sub(), (n, f) => [new([f, n]), new([n], Batched: false)]),
        C(() => new Mul(), (n, f) => [new([f, n]), new([n], Batched: false)]),
        C(() => new Mul(), (n, _) => [new([n]), new([n])]),
        C(() => new Scale(0.75f), (n, f) => [new([f, n])]),
        C(() => new PRelu(), (n, _) => [new([n]), new([n], Batched: false)]),
        // Training mode: both backends hash (seed, index) into the same mask.
        C(() => new Dropout(0.3f), (n, f) => [new([f, n])]),
    ]);

    [OpenClFact]
    public void Gemm_MatchesCpu() => Family([
        C(() => new Linear(true), (n, f) => [new([n]), new([n, f + 2], Batched: false), new([f + 2], Batched: false)]),
        C(() => new Linear(false), (n, f) => [new([f, n]), new([n, 3], Batched: false)]),
        C(() => new BatchedMatMul(false, false), (n, f) => [new([2, f, n]), new([2, n, 3])]),
        C(() => new BatchedMatMul(true, false), (n, f) => [new([2, n, f]), new([2, n, 3])]),
        C(() => new BatchedMatMul(false, true), (n, f) => [new([2, f, n]), new([2, 3, n])]),
        C(() => new BatchedMatMul(true, true), (n, f) => [new([1, n, f]), new([1, 3, n])]),
        C(() => new FieldLinear(), (n, f) => [new([f, n]), new([f, n, 3], Batched: false)]),
    ]);

    [OpenClFact]
    public void LayoutAndReductions_MatchCpu() => Family([
        C(() => new Concat(-1), (n, f) => [new([f, n]), new([f, 2])]),
        C(() => new Concat(1), (n, f) => [new([f, n]), new([1, n])]),
        C(() => new Slice(1, 0, 1), (n, f) => [new([f, n])]),
        C(() => new TransposeOp(2, 3), (n, f) => [new([2, f, n])]),
        C(() => new TransposeOp(1, 2), (n, f) => [new([f, n])]),
        C(() => new Flatten(), (n, f) => [new([f, n])]),
        (n, f) => (() => new Reshape(n, f), [new([f, n])]),
        C(() => new Expand(2, 3), (n, f) => [new([f, 1, n])]),
        C(() => new Sum(1), (n, f) => [new([f, n])]),
        C(() => new Mean(2, keepDim: true), (n, f) => [new([f, n])]),
    ]);

    [OpenClFact]
    public void Normalization_MatchesCpu() => Family([
        C(() => new Softmax(), (n, f) => [new([f, n])]),
        C(() => new LayerNorm(1e-5f), (n, f) => [new([f, n + 1]), new([n + 1], Batched: false), new([n + 1], Batched: false)]),
        // Running mean and variance are non-trainable operands the kernel moves: compared after the forward pass.
        C(() => new BatchNorm(1e-5f, 0.1f), (n, _) => [new([n]), new([n], Batched: false), new([n], Batched: false),
            new([n], Batched: false, NoGrad: true), new([n], Batched: false, Positive: true, NoGrad: true)]),
    ]);

    [OpenClFact]
    public void Embeddings_MatchCpu_WithTheSameSparseRows() => Family([
        C(() => new Embedding(), (n, f) => [new([f], IdRange: n + 1), new([n + 1, 4], Batched: false)]),
        C(() => new Embedding(), (n, f) => [new([f], IdRange: n + 1), new([n + 1, 3], Batched: false, Sparse: true)]),
        C(() => new SequenceMask(), (n, f) => [new([f + 1], IdRange: n + 1, Pad: -1)]),
        C(() => new PRelu(), (n, f) => [new([f + 1, n]), new([n], Batched: false)]),
        C(() => new EmbeddingBag(Pooling.Sum), (n, f) => [new([f + 1], IdRange: n + 1, Pad: -1), new([n + 1, 5], Batched: false, Sparse: true)]),
        C(() => new EmbeddingBag(Pooling.Mean), (n, f) => [new([f + 1], IdRange: n + 1, Pad: -1), new([n + 1, 2], Batched: false, Sparse: true)]),
        C(() => new EmbeddingBag(Pooling.Mean), (n, f) => [new([f + 1], IdRange: n + 1, Pad: -1), new([n + 1, 2], Batched: false)]),
    ]);

    [OpenClFact]
    public void Interactions_MatchCpu() => Family([
        C(() => new BiInteraction(), (n, f) => [new([f, n])]),
        C(() => new PairwiseInner(), (n, f) => [new([f + 1, n])]),
        C(() => new Fefm(), (n, f) => [new([f + 1, n]), new([FieldInteraction.Pairs(f + 1), n, n], Batched: false)]),
    ]);

    [OpenClFact]
    public void Interactions_OnPairRows_MatchCpu() => Family([
        C(() => new PairwiseProduct(), (n, f) => [new([f + 1, n]), new([f + 1, n])]),
        C(() => new FieldOuter(), (n, f) => [new([f, n]), new([3, n])]),
        C(() => new PairRows(PairSide.Left), (n, f) => [new([f + 1, n])]),
        C(() => new PairRows(PairSide.Right), (n, f) => [new([f + 1, n])]),
        C(() => new FieldAwareInner(), (n, f) => [new([f + 1, (f + 1) * n])]),
        C(() => new PairwiseOuter(), (n, f) => [new([f + 1, n])]),
    ]);

    [OpenClFact]
    public void FieldConv_MatchesCpu() => Family([
        C(() => new FieldConv(), (n, f) => [new([2, f + 2, n]), new([3, 2, Math.Min(3, f + 1)], Batched: false), new([3], Batched: false)]),
        C(() => new FieldConv(), (n, f) => [new([1, f, n]), new([2, 1, 2], Batched: false), new([2], Batched: false)]),
        C(() => new FieldMaxPool(2, PoolRounding.Floor), (n, f) => [new([2, f + 1, n])]),
        C(() => new FieldMaxPool(2, PoolRounding.Ceil), (n, f) => [new([2, f, n])]),
    ]);

    [OpenClFact]
    public void FieldMaxPool_OnTies_RoutesTheGradientToTheFirstMaximum() => CtrDsl.Tests.Ops.FieldConvTests.CheckTies(OpenClTestDevice.Backend);

    [OpenClFact]
    public void Losses_MatchCpu() => Family([
        C(() => new BceWithLogits(), (_, _) => [new([1]), new([], NoGrad: true)]),
        C(() => new Mse(), (_, _) => [new([1]), new([], NoGrad: true)]),
    ], count: 8);
}
