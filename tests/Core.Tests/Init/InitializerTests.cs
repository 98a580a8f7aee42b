using CtrDsl.Init;
using CtrDsl.Tensors;
using Xunit;

namespace CtrDsl.Tests.Init;

public class InitializerTests
{
    // 100 000 draws per test: the mean's standard error is σ/316 and the std's about σ/447; the tolerances below are
    // 5 standard errors, so a correct initialiser fails with probability < 1e-6 (and the seeds are fixed anyway).
    private const int N = 100_000;

    private static float[] Draw(Initializer init, int[] shape, ulong seed = 1)
    {
        var p = new Parameter("w", shape);
        init.Fill(p, seed);
        return p.Value;
    }

    private static (double Mean, double Std) Moments(float[] x)
    {
        double mean = x.Average(v => (double)v);
        return (mean, Math.Sqrt(x.Sum(v => (v - mean) * (v - mean)) / x.Length));
    }

    private static void AssertMoments(float[] x, double mean, double std)
    {
        var m = Moments(x);
        Assert.InRange(m.Mean, mean - 5 * std / Math.Sqrt(x.Length), mean + 5 * std / Math.Sqrt(x.Length));
        Assert.InRange(m.Std, std * (1 - 5 / Math.Sqrt(2.0 * x.Length)), std * (1 + 5 / Math.Sqrt(2.0 * x.Length)));
    }

    private static void AssertBounded(float[] x, double low, double high) =>
        Assert.All(x, v => Assert.InRange(v, (float)low, (float)high));

    [Fact]
    public void Zeros_AndConstant_FillEveryValue()
    {
        Assert.All(Draw(new Initializer.Zeros(), [7]), v => Assert.Equal(0f, v));
        Assert.All(Draw(new Initializer.Constant(0.25f), [7]), v => Assert.Equal(0.25f, v));
    }

    [Fact]
    public void Uniform_StaysInItsBounds_WithTheUniformMoments()
    {
        var x = Draw(new Initializer.Uniform(-0.3f, 0.7f), [N]);
        AssertBounded(x, -0.3, 0.7);
        AssertMoments(x, 0.2, 1 / Math.Sqrt(12));
    }

    [Fact]
    public void Normal_HasItsMeanAndStd() => AssertMoments(Draw(new Initializer.Normal(0.5f, 2f), [N]), 0.5, 2);

    [Fact]
    public void TruncatedNormal_StaysWithinTwoStd_WithTheTruncatedStd()
    {
        // The std of N(0, 1) truncated to [−2, 2] is √(1 − 4φ(2)/(2Φ(2) − 1)) = 0.879626.
        var x = Draw(new Initializer.TruncatedNormal(1f, 0.5f), [N]);
        AssertBounded(x, 1 - 2 * 0.5, 1 + 2 * 0.5);
        AssertMoments(x, 1, 0.5 * 0.879626);
    }

    [Fact]
    public void XavierUniform_AndNormal_UseFanInPlusFanOut()
    {
        // W [in; out] = [400; 250]: fan_in + fan_out = 650.
        double r = Math.Sqrt(6.0 / 650);
        var u = Draw(new Initializer.XavierUniform(), [400, 250]);
        AssertBounded(u, -r, r);
        AssertMoments(u, 0, r / Math.Sqrt(3));
        AssertMoments(Draw(new Initializer.XavierNormal(2f), [400, 250]), 0, 2 * Math.Sqrt(2.0 / 650));
    }

    [Fact]
    public void KaimingUniform_AndNormal_UseFanInWithReluGain()
    {
        // W [in; out] = [400; 250]: fan_in = 400, gain √2.
        double r = Math.Sqrt(2) * Math.Sqrt(3.0 / 400);
        var u = Draw(new Initializer.KaimingUniform(), [400, 250]);
        AssertBounded(u, -r, r);
        AssertMoments(u, 0, r / Math.Sqrt(3));
        AssertMoments(Draw(new Initializer.KaimingNormal(), [400, 250]), 0, Math.Sqrt(2.0 / 400));
    }

    [Fact]
    public void TorchLinear_DrawsWeightAndBiasFromUniformOverOneOverRootFanIn()
    {
        var w = new Parameter("fc.w", [400, 250]);
        var b = new Parameter("fc.b", [250]);
        Initializer.TorchLinear(w, b, seed: 9);
        double r = 1 / Math.Sqrt(400);
        AssertBounded(w.Value, -r, r);
        AssertMoments(w.Value, 0, r / Math.Sqrt(3));
        AssertBounded(b.Value, -r, r);
        // 250 biases spread over the interval, not stuck at 0 or at the fan-out scale 1/√250 = 0.063.
        Assert.InRange(b.Value.Max() - b.Value.Min(), 1.6 * r, 2 * r);
    }

    [Fact]
    public void Fill_IsDeterministic_AndIndependentOfCreationOrder()
    {
        var a1 = new Parameter("a", [64]);
        var b1 = new Parameter("b", [64]);
        var init = new Initializer.Normal(0, 1);
        init.Fill(a1, 3);
        init.Fill(b1, 3);
        var b2 = new Parameter("b", [64]);
        var a2 = new Parameter("a", [64]);
        init.Fill(b2, 3);
        init.Fill(a2, 3);
        Assert.Equal(a1.Value, a2.Value);
        Assert.Equal(b1.Value, b2.Value);
        Assert.NotEqual(a1.Value, b1.Value);
        var a3 = new Parameter("a", [64]);
        init.Fill(a3, 4);
        Assert.NotEqual(a1.Value, a3.Value);
    }

    [Fact]
    public void FanBasedInitializers_ThrowForAVector()
    {
        var e = Assert.Throws<ArgumentException>(() => Draw(new Initializer.XavierUniform(), [10]));
        Assert.Contains("[10]", e.Message);
    }
}
