using CtrDsl.Backends;
using CtrDsl.Graph;
using CtrDsl.Tensors;

namespace CtrDsl.Autodiff;

/// <summary>
/// The memory a plan would take, known before anything is allocated: <see cref="Bytes"/> of buffers (values,
/// gradients, scratch and inputs; parameters are bound, not copied, and not counted) and the
/// <see cref="LongestBuffer"/> in elements, which a backend must be able to hold in one buffer (the CPU backend's are
/// .NET arrays, at most <see cref="Array.MaxLength"/> elements).
/// </summary>
public readonly record struct PlanFootprint(long Bytes, long LongestBuffer);

public sealed partial class Plan
{
    /// <summary>Rows of the two measured plans <see cref="Footprint"/> extrapolates from: multiples of the arena's
    /// 16-float alignment, so that rounding does not bend the line.</summary>
    private const int FootprintRows = 64;

    /// <summary>
    /// What <see cref="Compile(ExprGraph, IBackend, int, Node?, Node[])"/> at <paramref name="maxBatch"/> rows would
    /// allocate, without allocating it: the arenas and inputs, and with a loss the sparse tables' row gradients
    /// (one row per id a batch can bring, at most the table's rows). Up to 2 × 64 rows the plan is measured as
    /// compiled; above, every arena buffer grows linearly with the batch, so plans of 64 and 128 rows are measured
    /// and the line through them is followed, in 128-bit arithmetic that saturates at <see cref="long.MaxValue"/>
    /// instead of overflowing. The graph's parameters are left as they were.
    /// </summary>
    public static PlanFootprint Footprint(ExprGraph graph, int maxBatch, Node? loss, params Node[] outputs)
    {
        if (maxBatch < 1) throw new ArgumentOutOfRangeException(nameof(maxBatch), "batch size must be at least 1");
        // A compiled training plan hands each sparse table a gradient accumulator of its own: put the real ones back.
        var sparse = graph.Nodes.Select(n => n.Parameter).OfType<Parameter>().Where(p => p.IsSparse).Distinct().ToArray();
        var saved = sparse.Select(p => p.SparseGrad).ToArray();
        try
        {
            (long Bytes, long Longest, Plan Plan) At(int rows)
            {
                var memory = new Measure();
                var plan = Compile(graph, null, memory, rows, loss, [], outputs);
                return (plan.AllocatedBytes, memory.Longest, plan);
            }
            long bytes, longest;
            if (maxBatch <= 2 * FootprintRows) (bytes, longest, _) = At(maxBatch);
            else
            {
                var (b1, l1, _) = At(FootprintRows);
                var (b2, l2, _) = At(2 * FootprintRows);
                bytes = Along(b1, b2, maxBatch);
                longest = Along(l1, l2, maxBatch);
            }
            // Row gradients: a one-row plan's accumulator holds the ids of one row (fewer only when the table is smaller).
            foreach (var a in At(1).Plan._sparse)
            {
                long rows = Math.Min((long)a.Grad.Rows.Length * maxBatch, a.Table.Shape[0]);
                bytes = Saturate(bytes + (Int128)rows * (a.Table.RowDim + 1) * 4);
                longest = Math.Max(longest, rows * a.Table.RowDim);
            }
            return new PlanFootprint(bytes, longest);
        }
        finally
        {
            for (int i = 0; i < sparse.Length; i++) sparse[i].SparseGrad = saved[i];
        }
    }

    private static long Along(long at1, long at2, int rows) =>
        Saturate(at1 + (Int128)(at2 - at1) * (rows - FootprintRows) / FootprintRows);

    private static long Saturate(Int128 v) => v > long.MaxValue ? long.MaxValue : (long)v;
}
