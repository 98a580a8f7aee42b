using CtrDsl.Ops;
using CtrDsl.Tests.Support;
using FsCheck.Fluent;
using Xunit;

namespace CtrDsl.Tests.Ops;

public class RollBatchTests
{
    [Fact]
    public void RollBatch_MatchesReference_AndFiniteDifferences() =>
        Sizes.Check(from batch in Sizes.Of(1, 2, 3, 5, 8) from f in Sizes.Of(Sizes.Small) from dim in Sizes.Of(Sizes.Awkward)
                    from seed in Gen.Choose(0, 1_000_000) select (batch, f, dim, seed),
            c => OpCheck.Run(() => new RollBatch(), [new([c.f, c.dim])], c.batch, (v, b) =>
            {
                int w = c.f * c.dim;
                return Enumerable.Range(0, b * w).Select(i => v[0][((i / w + 1) % b) * w + i % w]).ToArray();
            }, c.seed));
}
