using System.Runtime.Intrinsics;
using CtrDsl.Backends;

namespace CtrDsl.Optim;

/// <summary>
/// Adam, elementwise, with PyTorch's eps placement (torch.optim.Adam, single-tensor path):
/// <code>
/// w ← w·(1 − lr·λ)                       (decoupled weight decay, AdamW; Decay = 1 when λ = 0)
/// m ← β1·m + (1 − β1)·g
/// v ← β2·v + (1 − β2)·g²
/// w ← w − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + eps)
/// </code>
/// i.e. eps is added to √v̂ (the bias-corrected root), as in Kingma and Ba's Algorithm 1 and torch. TensorFlow/Keras
/// use the paper's "more efficient" form of Section 2 instead: eps added to the uncorrected √v, in effect an eps
/// scaled by √(1 − β2ᵗ), which matters in the first steps. As torch's addcdiv, the ratio m/denominator is formed
/// before the step size multiplies it. Used for whole dense tensors and, lazily, for each touched row of an
/// embedding table.
/// </summary>
public readonly struct AdamKernel : IOptimKernel2<AdamCoefficients>
{
    /// <summary>One step on <paramref name="w"/> with moments <paramref name="m"/>, <paramref name="v"/>; all of one length.</summary>
    public static void Update(Span<float> w, ReadOnlySpan<float> g, Span<float> m, Span<float> v, in AdamCoefficients c) =>
        OptimLoop.Run<AdamKernel, AdamCoefficients>(w, g, m, v, in c);

    static void IOptimKernel2<AdamCoefficients>.Apply(ref float w, float g, ref float m, ref float v, in AdamCoefficients c)
    {
        w *= c.Decay;
        m = c.Beta1 * m + (1f - c.Beta1) * g;
        v = c.Beta2 * v + (1f - c.Beta2) * (g * g);
        w -= c.StepSize * (m / (MathF.Sqrt(v) / c.SqrtBiasCorrection2 + c.Eps));
    }

    static void IOptimKernel2<AdamCoefficients>.Apply(
        ref Vector512<float> w, Vector512<float> g, ref Vector512<float> m, ref Vector512<float> v, in AdamCoefficients c)
    {
        w *= Vector512.Create(c.Decay);
        m = Vector512.Create(c.Beta1) * m + Vector512.Create(1f - c.Beta1) * g;
        v = Vector512.Create(c.Beta2) * v + Vector512.Create(1f - c.Beta2) * (g * g);
        w -= Vector512.Create(c.StepSize)
             * (m / (Vector512.Sqrt(v) / Vector512.Create(c.SqrtBiasCorrection2) + Vector512.Create(c.Eps)));
    }

    static void IOptimKernel2<AdamCoefficients>.Apply(
        ref Vector256<float> w, Vector256<float> g, ref Vector256<float> m, ref Vector256<float> v, in AdamCoefficients c)
    {
        w *= Vector256.Create(c.Decay);
        m = Vector256.Create(c.Beta1) * m + Vector256.Create(1f - c.Beta1) * g;
        v = Vector256.Create(c.Beta2) * v + Vector256.Create(1f - c.Beta2) * (g * g);
        w -= Vector256.Create(c.StepSize)
             * (m / (Vector256.Sqrt(v) / Vector256.Create(c.SqrtBiasCorrection2) + Vector256.Create(c.Eps)));
    }
}
