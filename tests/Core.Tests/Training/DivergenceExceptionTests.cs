using CtrDsl.Training;
using Xunit;

namespace CtrDsl.Tests.Training;

public class DivergenceExceptionTests
{
    [Fact]
    public void NonFiniteLossAtStepZero_BlamesTheData_NotTheLearningRate()
    {
        // No update has happened at step 0: a NaN loss there comes from the inputs (or the initial values).
        var m = new DivergenceException(0, float.NaN).Message;
        Assert.StartsWith("training diverged at step 0: the loss is NaN before any update, so the learning rate is not the cause.", m);
        Assert.Contains("extreme values in the data", m);
        Assert.DoesNotContain("\n", m);
    }

    [Fact]
    public void NonFiniteLossLater_NamesEveryLikelyCause()
    {
        var m = new DivergenceException(12, float.PositiveInfinity).Message;
        Assert.StartsWith("training diverged at step 12: the loss is ", m);
        Assert.Contains("learning rate too high", m);
        Assert.Contains("gradient clipping", m);
        Assert.Contains("extreme values in the data", m);
    }
}
