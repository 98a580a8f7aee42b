using CtrDsl.Tests.OpenCl;
using Xunit;

namespace CtrDsl.Torch.Tests;

/// <summary>Every op family on the Torch backend (libtorch on the CPU) against the CPU backend (<see cref="BackendCases"/>),
/// tolerance <see cref="Equivalence.Rtol"/> + <see cref="Equivalence.Atol"/>.</summary>
[Collection(TorchTestDevice.Collection)]
public class TorchBackendTests
{
    [Fact] public void Gemm_WithEpiloguesOffsetsAndStrides_MatchesCpu() => BackendCases.GemmWithEpiloguesOffsetsAndStrides(TorchTestDevice.Backend);
    [Fact] public void Pointwise_MatchesCpu() => BackendCases.Pointwise(TorchTestDevice.Backend);
    [Fact] public void Gemm_MatchesCpu() => BackendCases.Gemm(TorchTestDevice.Backend);
    [Fact] public void LayoutAndReductions_MatchCpu() => BackendCases.LayoutAndReductions(TorchTestDevice.Backend);
    [Fact] public void Normalization_MatchesCpu() => BackendCases.Normalization(TorchTestDevice.Backend);

    // A case the family property once drew: batch norm over 3 rows, whose backward cancels terms, so float32 batch
    // statistics were 2.5e-4 off the CPU's float64 ones. The Torch backend now takes them in float64 too.
    [Fact]
    public void BatchNorm_OverFewRows_MatchesCpu() => Equivalence.Run(TorchTestDevice.Backend, () => new Ops.BatchNorm(1e-5f, 0.1f),
        [new([9]), new([9], Batched: false), new([9], Batched: false), new([9], Batched: false, NoGrad: true),
         new([9], Batched: false, Positive: true, NoGrad: true)], batch: 3, seed: 514217, training: true);
    [Fact] public void Embeddings_MatchCpu_WithTheSameSparseRows() => BackendCases.Embeddings(TorchTestDevice.Backend);
    [Fact] public void Interactions_MatchCpu() => BackendCases.Interactions(TorchTestDevice.Backend);
    [Fact] public void Interactions_OnPairRows_MatchCpu() => BackendCases.InteractionsOnPairRows(TorchTestDevice.Backend);
    [Fact] public void FieldConv_MatchesCpu() => BackendCases.FieldConv(TorchTestDevice.Backend);
    [Fact] public void Losses_MatchCpu() => BackendCases.Losses(TorchTestDevice.Backend);

    [Fact]
    public void FieldMaxPool_OnTies_RoutesTheGradientToTheFirstMaximum() => CtrDsl.Tests.Ops.FieldConvTests.CheckTies(TorchTestDevice.Backend);
}
