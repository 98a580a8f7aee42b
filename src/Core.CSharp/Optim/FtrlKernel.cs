using System.Runtime.Intrinsics;

namespace CtrDsl.Optim;

/// <summary>The scalars of FTRL-Proximal: α (the learning rate), β, λ1, λ2.</summary>
public readonly record struct FtrlCoefficients(float Alpha, float Beta, float L1, float L2);

/// <summary>
/// FTRL-Proximal, per coordinate (McMahan et al. 2013, "Ad Click Prediction: a View from the Trenches", Algorithm 1),
/// with g the gradient at the current w:
/// <code>
/// σ ← (√(n + g²) − √n) / α
/// z ← z + g − σ·w
/// n ← n + g²
/// w ← 0                                            if |z| ≤ λ1
/// w ← −(z − sgn(z)·λ1) / ((β + √n)/α + λ2)         otherwise
/// </code>
/// The weight is recomputed from (z, n) alone, so λ1 sets small weights exactly to 0. A coordinate whose gradient
/// is 0 keeps z, n and hence w (once w has been produced by this formula), so updating only touched rows is exact.
/// </summary>
public readonly struct FtrlKernel : IOptimKernel2<FtrlCoefficients>
{
    /// <summary>One step on <paramref name="w"/> with accumulators <paramref name="z"/>, <paramref name="n"/>; all of one length.</summary>
    public static void Update(Span<float> w, ReadOnlySpan<float> g, Span<float> z, Span<float> n, in FtrlCoefficients c) =>
        OptimLoop.Run<FtrlKernel, FtrlCoefficients>(w, g, z, n, in c);

    static void IOptimKernel2<FtrlCoefficients>.Apply(ref float w, float g, ref float z, ref float n, in FtrlCoefficients c)
    {
        float nNew = n + g * g;
        float sigma = (MathF.Sqrt(nNew) - MathF.Sqrt(n)) / c.Alpha;
        z = z + g - sigma * w;
        n = nNew;
        float shrunk = z > 0f ? z - c.L1 : z + c.L1;
        w = MathF.Abs(z) <= c.L1 ? 0f : -shrunk / ((c.Beta + MathF.Sqrt(n)) / c.Alpha + c.L2);
    }

    static void IOptimKernel2<FtrlCoefficients>.Apply(
        ref Vector512<float> w, Vector512<float> g, ref Vector512<float> z, ref Vector512<float> n, in FtrlCoefficients c)
    {
        var alpha = Vector512.Create(c.Alpha);
        var l1 = Vector512.Create(c.L1);
        var nNew = n + g * g;
        var sigma = (Vector512.Sqrt(nNew) - Vector512.Sqrt(n)) / alpha;
        z = z + g - sigma * w;
        n = nNew;
        var shrunk = Vector512.ConditionalSelect(Vector512.GreaterThan(z, Vector512<float>.Zero), z - l1, z + l1);
        var solved = -shrunk / ((Vector512.Create(c.Beta) + Vector512.Sqrt(n)) / alpha + Vector512.Create(c.L2));
        w = Vector512.ConditionalSelect(Vector512.LessThanOrEqual(Vector512.Abs(z), l1), Vector512<float>.Zero, solved);
    }

    static void IOptimKernel2<FtrlCoefficients>.Apply(
        ref Vector256<float> w, Vector256<float> g, ref Vector256<float> z, ref Vector256<float> n, in FtrlCoefficients c)
    {
        var alpha = Vector256.Create(c.Alpha);
        var l1 = Vector256.Create(c.L1);
        var nNew = n + g * g;
        var sigma = (Vector256.Sqrt(nNew) - Vector256.Sqrt(n)) / alpha;
        z = z + g - sigma * w;
        n = nNew;
        var shrunk = Vector256.ConditionalSelect(Vector256.GreaterThan(z, Vector256<float>.Zero), z - l1, z + l1);
        var solved = -shrunk / ((Vector256.Create(c.Beta) + Vector256.Sqrt(n)) / alpha + Vector256.Create(c.L2));
        w = Vector256.ConditionalSelect(Vector256.LessThanOrEqual(Vector256.Abs(z), l1), Vector256<float>.Zero, solved);
    }
}
