using CtrDsl.Init;
using Xunit;

namespace CtrDsl.Tests.Init;

public class FansTests
{
    [Fact]
    public void Fans_OfAWeightInOut_AreInAndOut() => Assert.Equal(new Fans(3, 4), Fans.Of([3, 4]));

    [Fact]
    public void Fans_OfAHigherRankWeight_MultiplyAllButTheLastIntoFanIn() => Assert.Equal(new Fans(6, 4), Fans.Of([2, 3, 4]));

    [Fact]
    public void Fans_ThrowForAVector() => Assert.Throws<ArgumentException>(() => Fans.Of([5]));
}
