using System.Runtime.Intrinsics;

namespace CtrDsl.Optim;

/// <summary>
/// The scalars of one RAdam step inside Ranger. <see cref="Rectified"/> is N_sma &gt; threshold;
/// <see cref="StepLr"/> = lr · step_size (see <see cref="Ranger"/> for both formulas);
/// <see cref="Decay"/> = 1 − lr·weight_decay.
/// </summary>
public readonly record struct RangerCoefficients(
    float Beta1, float Beta2, float Eps, float StepLr, bool Rectified, float Decay)
{
    /// <summary>
    /// The coefficients of step <paramref name="t"/> (1-based), as the reference Ranger (lessw2020, ranger.py) computes them:
    /// <code>
    /// N_max = 2/(1 − β2) − 1
    /// N_t   = N_max − 2t·β2ᵗ/(1 − β2ᵗ)
    /// step_size = √((1 − β2ᵗ)·(N_t − 4)/(N_max − 4)·(N_t − 2)/N_t·N_max/(N_max − 2)) / (1 − β1ᵗ)   if N_t &gt; threshold
    /// step_size = 1/(1 − β1ᵗ)                                                                    otherwise
    /// </code>
    /// </summary>
    public static RangerCoefficients At(
        long t, float learningRate, float beta1, float beta2, float eps, float weightDecay, float smaThreshold)
    {
        double beta2T = Math.Pow(beta2, t);
        double nMax = 2.0 / (1 - (double)beta2) - 1;
        double nT = nMax - 2.0 * t * beta2T / (1 - beta2T);
        double bc1 = 1 - Math.Pow(beta1, t);
        bool rectified = nT > smaThreshold;
        double stepSize = rectified
            ? Math.Sqrt((1 - beta2T) * (nT - 4) / (nMax - 4) * (nT - 2) / nT * nMax / (nMax - 2)) / bc1
            : 1.0 / bc1;
        return new RangerCoefficients(
            beta1, beta2, eps,
            StepLr: (float)(learningRate * stepSize),
            Rectified: rectified,
            Decay: (float)(1 - (double)learningRate * weightDecay));
    }
}

/// <summary>
/// The RAdam half of Ranger, elementwise (reference ranger.py):
/// <code>
/// v ← β2·v + (1 − β2)·g²
/// m ← β1·m + (1 − β1)·g
/// w ← w·(1 − lr·weight_decay)
/// w ← w − lr·step_size · m / (√v + eps)     if rectified (eps on the uncorrected √v; step_size carries √(1 − β2ᵗ))
/// w ← w − lr·step_size · m                  otherwise (the SGD-with-momentum warm-up)
/// </code>
/// The Lookahead half is <see cref="LookaheadKernel"/>.
/// </summary>
public readonly struct RangerKernel : IOptimKernel2<RangerCoefficients>
{
    /// <summary>One RAdam step on <paramref name="w"/> with moments <paramref name="m"/>, <paramref name="v"/>; all of one length.</summary>
    public static void Update(Span<float> w, ReadOnlySpan<float> g, Span<float> m, Span<float> v, in RangerCoefficients c) =>
        OptimLoop.Run<RangerKernel, RangerCoefficients>(w, g, m, v, in c);

    static void IOptimKernel2<RangerCoefficients>.Apply(ref float w, float g, ref float m, ref float v, in RangerCoefficients c)
    {
        v = c.Beta2 * v + (1f - c.Beta2) * (g * g);
        m = c.Beta1 * m + (1f - c.Beta1) * g;
        w *= c.Decay;
        w -= c.Rectified ? c.StepLr * (m / (MathF.Sqrt(v) + c.Eps)) : c.StepLr * m;
    }

    static void IOptimKernel2<RangerCoefficients>.Apply(
        ref Vector512<float> w, Vector512<float> g, ref Vector512<float> m, ref Vector512<float> v, in RangerCoefficients c)
    {
        v = Vector512.Create(c.Beta2) * v + Vector512.Create(1f - c.Beta2) * (g * g);
        m = Vector512.Create(c.Beta1) * m + Vector512.Create(1f - c.Beta1) * g;
        w *= Vector512.Create(c.Decay);
        var stepLr = Vector512.Create(c.StepLr);
        w -= c.Rectified ? stepLr * (m / (Vector512.Sqrt(v) + Vector512.Create(c.Eps))) : stepLr * m;
    }

    static void IOptimKernel2<RangerCoefficients>.Apply(
        ref Vector256<float> w, Vector256<float> g, ref Vector256<float> m, ref Vector256<float> v, in RangerCoefficients c)
    {
        v = Vector256.Create(c.Beta2) * v + Vector256.Create(1f - c.Beta2) * (g * g);
        m = Vector256.Create(c.Beta1) * m + Vector256.Create(1f - c.Beta1) * g;
        w *= Vector256.Create(c.Decay);
        var stepLr = Vector256.Create(c.StepLr);
        w -= c.Rectified ? stepLr * (m / (Vector256.Sqrt(v) + Vector256.Create(c.Eps))) : stepLr * m;
    }
}

/// <summary>
/// Lookahead's synchronisation (Zhang et al. 2019, Algorithm 1), run every k steps:
/// <code>
/// slow ← slow + α·(fast − slow)
/// fast ← slow
/// </code>
/// </summary>
public static class LookaheadKernel
{
    public static void Sync(Span<float> fast, Span<float> slow, float alpha)
    {
        if (fast.Length != slow.Length)
            throw new ArgumentException($"lookahead: slow has {slow.Length} values, expected {fast.Length}");
        for (int i = 0; i < fast.Length; i++)
        {
            slow[i] += alpha * (fast[i] - slow[i]);
            fast[i] = slow[i];
        }
    }
}
