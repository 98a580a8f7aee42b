using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using CtrDsl.Backends;

namespace CtrDsl.Optim;

/// <summary>
/// SGD with momentum, elementwise, as torch.optim.SGD with dampening 0 (buffer starting at 0, so the first
/// step's buffer is g, as torch's clone):
/// <code>
/// b ← μ·b + g
/// w ← w − lr·(g + μ·b)    (Nesterov)
/// w ← w − lr·b            (otherwise)
/// </code>
/// Without momentum there is no buffer: <see cref="Update(Span{float}, ReadOnlySpan{float}, float)"/> is w ← w − lr·g.
/// </summary>
public readonly struct SgdKernel : IOptimKernel1<SgdCoefficients>
{
    /// <summary>Plain SGD: w ← w − lr·g.</summary>
    public static void Update(Span<float> w, ReadOnlySpan<float> g, float learningRate) =>
        TensorPrimitives.MultiplyAdd(g, -learningRate, w, w);

    /// <summary>One momentum step on <paramref name="w"/> with buffer <paramref name="b"/>; all of one length.</summary>
    public static void Update(Span<float> w, ReadOnlySpan<float> g, Span<float> b, in SgdCoefficients c) =>
        OptimLoop.Run<SgdKernel, SgdCoefficients>(w, g, b, in c);

    static void IOptimKernel1<SgdCoefficients>.Apply(ref float w, float g, ref float b, in SgdCoefficients c)
    {
        b = c.Momentum * b + g;
        w -= c.LearningRate * (c.Nesterov ? g + c.Momentum * b : b);
    }

    static void IOptimKernel1<SgdCoefficients>.Apply(
        ref Vector512<float> w, Vector512<float> g, ref Vector512<float> b, in SgdCoefficients c)
    {
        var mu = Vector512.Create(c.Momentum);
        b = mu * b + g;
        w -= Vector512.Create(c.LearningRate) * (c.Nesterov ? g + mu * b : b);
    }

    static void IOptimKernel1<SgdCoefficients>.Apply(
        ref Vector256<float> w, Vector256<float> g, ref Vector256<float> b, in SgdCoefficients c)
    {
        var mu = Vector256.Create(c.Momentum);
        b = mu * b + g;
        w -= Vector256.Create(c.LearningRate) * (c.Nesterov ? g + mu * b : b);
    }
}
