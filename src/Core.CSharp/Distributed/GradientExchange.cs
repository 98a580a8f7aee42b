using CtrDsl.Autodiff;
using CtrDsl.Tensors;
using CtrDsl.Training;

namespace CtrDsl.Distributed;

/// <summary>
/// Data-parallel gradient reduction: every rank computed the mean loss of its own rows; this turns the ranks'
/// gradients into the gradient of the mean loss over all of the step's rows, the same on every rank, so every
/// replica takes the same update. Rank r's gradient is weighted by rows_r / Σ rows (equal shares give ½ on 2 ranks,
/// an exact scaling), known before the backward pass from the loss's all-reduce, then:
/// <list type="bullet">
/// <item>dense parameters travel in buckets (<see cref="DenseBuckets"/>, <see cref="ExchangeOptions"/>): once
/// <see cref="Attach"/>ed to the plan, a bucket's all-reduce starts in the backward pass as soon as its gradients are
/// final (the plan's <see cref="Plan.GradientReady"/>), and <see cref="Reduce"/> waits for them all; with
/// <see cref="ExchangeOptions.BucketBytes"/> = 0, or not attached, they travel as one bucket, one blocking all-reduce
/// after the backward pass;</item>
/// <item>a replicated embedding table's row-sparse gradient is all-gathered (each rank's rows and values) and merged
/// in rank order into a second row-sparse gradient that the optimizer then reads, so only touched rows travel and
/// the lazy optimizer state stays row-sparse.</item>
/// </list>
/// Against one process with the whole batch the only difference is the order of summation (each rank's partial sums
/// are added, instead of one running sum), so parameters agree to float rounding; the bucket layout and the overlap
/// change no bit. Batch norm uses each rank's own batch statistics and dropout masks are drawn per rank, as in
/// PyTorch's DDP. Buffers are sized at construction; a step allocates nothing.
/// </summary>
public sealed class GradientExchange
{
    private readonly ICommunicator _comm;
    private readonly Parameter[] _dense;
    private readonly ExchangeOptions _options;
    private DenseBuckets _buckets;
    private Plan? _plan;
    private readonly SparseTable[] _sparse;
    private readonly double[] _loss = new double[3];
    private readonly int[] _one = new int[1];
    private readonly int[] _counts;
    private readonly int[] _valueCounts;
    private double _rows;

    private sealed class SparseTable(Parameter table, RowSparseGrad local, RowSparseGrad merged, int[] ids, float[] values)
    {
        public readonly Parameter Table = table;
        public readonly RowSparseGrad Local = local, Merged = merged;
        public readonly int[] Ids = ids, SlotOfRow = Enumerable.Repeat(-1, table.Shape[0]).ToArray();
        public readonly float[] Values = values;
    }

    /// <param name="comm">The ranks.</param>
    /// <param name="parameters">The optimizer's parameters, after the plan was compiled (sparse tables already have
    /// their step accumulators).</param>
    /// <param name="options">Buckets and precision of the dense gradients (default: <see cref="ExchangeOptions.Default"/>).</param>
    public GradientExchange(ICommunicator comm, IReadOnlyList<Parameter> parameters, ExchangeOptions? options = null)
    {
        _comm = comm;
        _options = options ?? ExchangeOptions.Default;
        _counts = new int[comm.Size];
        _valueCounts = new int[comm.Size];
        _dense = parameters.Where(p => p.Trainable && !p.IsSparse).ToArray();
        _buckets = new DenseBuckets(comm, _dense, _options with { BucketBytes = 0 });
        _sparse = parameters.Where(p => p.Trainable && p.IsSparse).Select(p =>
        {
            var local = p.SparseGrad ?? throw new InvalidOperationException($"{p.Name}: the plan has not given the table its accumulator");
            int capacity = (int)Math.Min(p.Shape[0], (long)local.Rows.Length * comm.Size);
            var merged = new RowSparseGrad(capacity, local.Dim);
            p.SparseGrad = merged;   // the optimizer, clipping and zeroing read the merged rows from now on
            return new SparseTable(p, local, merged, new int[local.Rows.Length * comm.Size], new float[(long)local.Rows.Length * comm.Size * local.Dim]);
        }).ToArray();
    }

    public ExchangeOptions Options => _options;

    /// <summary>Bucket sizes (float32 values each) in the order their all-reduces start.</summary>
    public IReadOnlyList<int> BucketLengths => _buckets.Lengths;

    /// <summary>Overlaps the dense all-reduce with <paramref name="plan"/>'s backward pass: buckets in the order the
    /// plan finishes the gradients, each started from its <see cref="Plan.GradientReady"/>. Nothing changes when
    /// <see cref="ExchangeOptions.BucketBytes"/> is 0. Null detaches.</summary>
    public void Attach(Plan? plan)
    {
        if (_plan is not null) _plan.GradientReady = null;
        _plan = null;
        if (plan is null || _options.BucketBytes == 0)
        {
            _buckets = new DenseBuckets(_comm, _dense, _options with { BucketBytes = 0 });
            return;
        }
        var mine = _dense.ToHashSet(ReferenceEqualityComparer.Instance);
        var order = plan.GradientOrder.Where(mine.Contains).ToList();
        order.AddRange(_dense.Where(p => !order.Contains(p)));   // parameters the plan does not read come last
        _buckets = new DenseBuckets(_comm, order, _options);
        plan.GradientReady = _buckets.Ready;
        _plan = plan;
    }

    /// <summary>The mean loss over every rank's rows. Throws <see cref="DivergenceException"/> on every rank when any
    /// rank's loss is not finite, so no rank is left waiting in the next collective. Sets this rank's weight for the
    /// gradients of the step's backward pass.</summary>
    public float ReduceLoss(long step, float loss, int rows)
    {
        bool finite = float.IsFinite(loss);
        _loss[0] = finite ? (double)loss * rows : 0.0;
        _loss[1] = rows;
        _loss[2] = finite ? 0.0 : 1.0;
        _comm.AllReduceSum(_loss);
        _rows = _loss[1];
        if (_loss[2] > 0) throw new DivergenceException(step, finite ? float.NaN : loss);
        _buckets.Begin(rows > 0 ? Weight(rows) : 0f);
        return _rows > 0 ? (float)(_loss[0] / _rows) : 0f;
    }

    /// <summary>This rank's weight in the step's gradient: its rows over every rank's rows (after
    /// <see cref="ReduceLoss"/> of the same step).</summary>
    public float Weight(int rows) => _rows > 0 ? (float)(rows / _rows) : 0f;

    /// <summary>Completes the step's reduction (after the backward pass; call after <see cref="ReduceLoss"/> of the
    /// same step): waits for the dense buckets, then exchanges the replicated tables' rows.</summary>
    public void Reduce(int rows)
    {
        _buckets.Finish();
        foreach (var t in _sparse) ReduceTable(t, rows > 0 ? t.Local.Count : 0, Weight(rows));
    }

    private void ReduceTable(SparseTable t, int count, float w)
    {
        int dim = t.Local.Dim;
        _one[0] = count;
        _comm.AllGather(_one, _counts);
        int total = 0;
        for (int r = 0; r < _counts.Length; r++)
        {
            total += _counts[r];
            _valueCounts[r] = _counts[r] * dim;
        }
        var mine = t.Local.Values.AsSpan(0, count * dim);
        System.Numerics.Tensors.TensorPrimitives.Multiply(mine, w, mine);
        _comm.AllGatherV(t.Local.Rows.AsSpan(0, count), t.Ids, _counts);
        _comm.AllGatherV(mine, t.Values, _valueCounts);

        // Merge in rank order: a row seen again adds to its slot.
        var merged = t.Merged;
        merged.Count = 0;
        for (int i = 0; i < total; i++)
        {
            int row = t.Ids[i];
            var v = t.Values.AsSpan(i * dim, dim);
            int slot = t.SlotOfRow[row];
            if (slot < 0)
            {
                slot = t.SlotOfRow[row] = merged.Count++;
                merged.Rows[slot] = row;
                v.CopyTo(merged.Row(slot));
            }
            else System.Numerics.Tensors.TensorPrimitives.Add(merged.Row(slot), v, merged.Row(slot));
        }
        for (int s = 0; s < merged.Count; s++) t.SlotOfRow[merged.Rows[s]] = -1;
    }
}
