using System.Numerics.Tensors;
using CtrDsl.Tensors;

namespace CtrDsl.Optim;

/// <summary>
/// L2 regularisation, per parameter, with λ = <see cref="Parameter.L2"/>.
/// <para>Convention: the penalty is λ/2·‖w‖², so its gradient is λ·w, and the optimizer's step sees g + λ·w
/// (torch's <c>weight_decay</c> coupled form for every optimizer; AdamW's decoupled decay is a separate Adam option).</para>
/// <para>A dense parameter is regularised as a whole tensor. An embedding table is regularised on the rows the current
/// batch touched only (the rows of its <see cref="Parameter.SparseGrad"/>, each once however often the batch looked it
/// up): the DeepCTR/FuxiCTR "regularise the looked-up embeddings" convention, which keeps a step's cost proportional to
/// the batch rather than to the table.</para>
/// <para>The L2 gradient is added by <see cref="ElementwiseOptimizer.Step"/> after any gradient clipping, so clipping
/// sees the data gradient only (as torch's clip_grad_norm_ then weight_decay).</para>
/// </summary>
public static class Regularization
{
    /// <summary>Adds λ·w to the gradient of <paramref name="p"/>: all of a dense one, the touched rows of a table.</summary>
    public static void AddGradient(Parameter p)
    {
        float lambda = p.L2;
        if (lambda == 0f) return;
        if (!p.IsSparse)
        {
            TensorPrimitives.MultiplyAdd(p.Value, lambda, p.Grad, p.Grad);
            return;
        }
        var g = p.SparseGrad;
        if (g is null) return;
        int dim = p.RowDim;
        for (int s = 0; s < g.Count; s++)
        {
            var row = g.Row(s);
            TensorPrimitives.MultiplyAdd(p.Value.AsSpan(RowStart(p, g.Rows[s]), dim), lambda, row, row);
        }
    }

    /// <summary>λ/2·‖w‖² of one parameter, over the same elements <see cref="AddGradient"/> touches, in float64.</summary>
    public static double Penalty(Parameter p)
    {
        float lambda = p.L2;
        if (lambda == 0f) return 0;
        double sum = 0;
        if (!p.IsSparse)
        {
            sum = SumOfSquares(p.Value);
        }
        else if (p.SparseGrad is { } g)
        {
            for (int s = 0; s < g.Count; s++)
                sum += SumOfSquares(p.Value.AsSpan(RowStart(p, g.Rows[s]), p.RowDim));
        }
        return 0.5 * lambda * sum;
    }

    /// <summary>The sum of <see cref="Penalty(Parameter)"/> over <paramref name="parameters"/>, for loss reporting.</summary>
    public static double Penalty(IReadOnlyList<Parameter> parameters)
    {
        double total = 0;
        for (int i = 0; i < parameters.Count; i++) total += Penalty(parameters[i]);
        return total;
    }

    private static double SumOfSquares(ReadOnlySpan<float> x)
    {
        double sum = 0;
        foreach (var v in x) sum += (double)v * v;
        return sum;
    }

    private static int RowStart(Parameter p, int row)
    {
        if ((uint)row >= (uint)p.Shape[0])
            throw new ArgumentOutOfRangeException(nameof(row), $"{p}: sparse gradient names row {row}, outside [0, {p.Shape[0]})");
        return row * p.RowDim;
    }
}
