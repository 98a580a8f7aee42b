using CtrDsl.Backends;
using CtrDsl.Tests.Support;
using Xunit;

namespace CtrDsl.Tests.OpenCl;

/// <summary>
/// The embedding cases of <see cref="BackendCases"/> with every backward call split by row range
/// (<see cref="SparseRowAccumulator.PartedMinLookups"/> lowered to 0): the OpenCL backend hands out the sparse rows in
/// the CPU backend's part-major layout. In the serial collection: it changes a process-wide setting, and no other
/// test uses the OpenCL device meanwhile.
/// </summary>
[Collection(Serial.Name)]
public class SplitEmbeddingTests
{
    [OpenClFact]
    public void Embeddings_SplitByRowRange_MatchCpu_WithTheSameSparseRows()
    {
        int saved = SparseRowAccumulator.PartedMinLookups;
        SparseRowAccumulator.PartedMinLookups = 0;
        try { BackendCases.Embeddings(OpenClTestDevice.Backend); }
        finally { SparseRowAccumulator.PartedMinLookups = saved; }
    }
}
