using System.Runtime.Intrinsics;
using CtrDsl.Backends;

namespace CtrDsl.Optim;

/// <summary>
/// Adagrad, elementwise, as torch.optim.Adagrad (lr_decay = 0):
/// <code>
/// s ← s + g²
/// w ← w − lr · g / (√s + eps)
/// </code>
/// The accumulator starts at the optimizer's initial accumulator value (torch 0, TF/Keras 0.1).
/// </summary>
public readonly struct AdagradKernel : IOptimKernel1<AdagradCoefficients>
{
    /// <summary>One step on <paramref name="w"/> with accumulator <paramref name="s"/>; all of one length.</summary>
    public static void Update(Span<float> w, ReadOnlySpan<float> g, Span<float> s, in AdagradCoefficients c) =>
        OptimLoop.Run<AdagradKernel, AdagradCoefficients>(w, g, s, in c);

    static void IOptimKernel1<AdagradCoefficients>.Apply(ref float w, float g, ref float s, in AdagradCoefficients c)
    {
        s += g * g;
        w -= c.LearningRate * (g / (MathF.Sqrt(s) + c.Eps));
    }

    static void IOptimKernel1<AdagradCoefficients>.Apply(
        ref Vector512<float> w, Vector512<float> g, ref Vector512<float> s, in AdagradCoefficients c)
    {
        s += g * g;
        w -= Vector512.Create(c.LearningRate) * (g / (Vector512.Sqrt(s) + Vector512.Create(c.Eps)));
    }

    static void IOptimKernel1<AdagradCoefficients>.Apply(
        ref Vector256<float> w, Vector256<float> g, ref Vector256<float> s, in AdagradCoefficients c)
    {
        s += g * g;
        w -= Vector256.Create(c.LearningRate) * (g / (Vector256.Sqrt(s) + Vector256.Create(c.Eps)));
    }
}
