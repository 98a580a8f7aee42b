using Xunit;

namespace CtrDsl.Tests.OpenCl;

/// <summary>Every op family on the OpenCL backend against the CPU backend (<see cref="BackendCases"/>).</summary>
[Collection(OpenClTestDevice.Collection)]
public class OpenClBackendTests
{
    [OpenClFact] public void Gemm_WithEpiloguesOffsetsAndStrides_MatchesCpu() => BackendCases.GemmWithEpiloguesOffsetsAndStrides(OpenClTestDevice.Backend);
    [OpenClFact] public void Pointwise_MatchesCpu() => BackendCases.Pointwise(OpenClTestDevice.Backend);
    [OpenClFact] public void Gemm_MatchesCpu() => BackendCases.Gemm(OpenClTestDevice.Backend);
    [OpenClFact] public void LayoutAndReductions_MatchCpu() => BackendCases.LayoutAndReductions(OpenClTestDevice.Backend);
    [OpenClFact] public void Normalization_MatchesCpu() => BackendCases.Normalization(OpenClTestDevice.Backend);
    [OpenClFact] public void Embeddings_MatchCpu_WithTheSameSparseRows() => BackendCases.Embeddings(OpenClTestDevice.Backend);
    [OpenClFact] public void Interactions_MatchCpu() => BackendCases.Interactions(OpenClTestDevice.Backend);
    [OpenClFact] public void Interactions_OnPairRows_MatchCpu() => BackendCases.InteractionsOnPairRows(OpenClTestDevice.Backend);
    [OpenClFact] public void FieldConv_MatchesCpu() => BackendCases.FieldConv(OpenClTestDevice.Backend);
    [OpenClFact] public void Losses_MatchCpu() => BackendCases.Losses(OpenClTestDevice.Backend);

    [OpenClFact]
    public void MaskedPool_HasNoKernelYet_AndTheErrorNamesTheOp()
    {
        var b = OpenClTestDevice.Backend;
        var e = Assert.Throws<NotSupportedException>(() => b.MaskedPool(1, 1, 1, Backends.SequencePooling.Max, default, default, default));
        Assert.StartsWith("masked_pool:", e.Message);
    }

    [OpenClFact]
    public void FieldMaxPool_OnTies_RoutesTheGradientToTheFirstMaximum() => CtrDsl.Tests.Ops.FieldConvTests.CheckTies(OpenClTestDevice.Backend);
}
