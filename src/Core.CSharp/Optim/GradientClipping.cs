using System.Numerics.Tensors;
using CtrDsl.Tensors;

namespace CtrDsl.Optim;

/// <summary>
/// Global L2-norm clipping, as torch.nn.utils.clip_grad_norm_: the norm is taken over every dense gradient and the
/// touched rows of every row-sparse gradient together; when it exceeds the maximum, all of them are scaled in place by
/// max/(norm + 1e-6), which keeps their direction and leaves the norm just under the maximum.
/// </summary>
public static class GradientClipping
{
    // torch adds 1e-6 to the norm so the scale stays finite and the clipped norm lands strictly below the maximum.
    private const double Guard = 1e-6;

    /// <summary>The global L2 norm of the gradients of <paramref name="parameters"/>, accumulated in float64.</summary>
    public static double GlobalNorm(IReadOnlyList<Parameter> parameters)
    {
        double sum = 0;
        for (int i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            if (!p.IsSparse) sum += SumOfSquares(p.Grad);
            else if (p.SparseGrad is { } g) sum += SumOfSquares(g.Values.AsSpan(0, g.Count * g.Dim));
        }
        return Math.Sqrt(sum);
    }

    /// <summary>
    /// Scales all gradients so that their global norm is at most <paramref name="maxNorm"/>; returns the norm before
    /// clipping. Throws for a negative or NaN maximum. A NaN or infinite norm is returned and the gradients are left as they are.
    /// </summary>
    public static float ClipGlobalNorm(IReadOnlyList<Parameter> parameters, float maxNorm)
    {
        if (!(maxNorm >= 0f))
            throw new ArgumentOutOfRangeException(nameof(maxNorm), $"clip: maximum norm must be ≥ 0, got {maxNorm}");
        double norm = GlobalNorm(parameters);
        if (norm > maxNorm && double.IsFinite(norm))
        {
            float scale = (float)(maxNorm / (norm + Guard));
            for (int i = 0; i < parameters.Count; i++)
            {
                var p = parameters[i];
                if (!p.IsSparse) TensorPrimitives.Multiply(p.Grad, scale, p.Grad);
                else if (p.SparseGrad is { } g)
                {
                    var values = g.Values.AsSpan(0, g.Count * g.Dim);
                    TensorPrimitives.Multiply(values, scale, values);
                }
            }
        }
        return (float)norm;
    }

    private static double SumOfSquares(ReadOnlySpan<float> x)
    {
        double sum = 0;
        foreach (var v in x) sum += (double)v * v;
        return sum;
    }
}
