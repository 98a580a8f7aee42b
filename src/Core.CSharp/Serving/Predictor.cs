using CtrDsl.Autodiff;
using CtrDsl.Cpu;
using CtrDsl.Data;
using CtrDsl.Graph;
using CtrDsl.Training;

namespace CtrDsl.Serving;

/// <summary>Settings of a <see cref="Predictor"/>.</summary>
public sealed record PredictorOptions
{
    /// <summary>Rows of the batch plan: <see cref="Predictor.Predict(Batch, Span{float})"/> takes at most this many,
    /// the span overloads score longer inputs in pieces of this size.</summary>
    public int BatchSize { get; init; } = 4096;

    /// <summary>True when the model's output is a logit (binary classification): scores are its sigmoid, the click
    /// probability. False for regression: scores are the output itself.</summary>
    public bool OutputIsLogit { get; init; } = true;

    /// <summary>Run single-row calls entirely on the calling thread (<see cref="WorkerPool.CallingThreadOnly"/>)
    /// instead of splitting their kernels over the worker pool. Off by default: <c>ctr bench score</c> measures both.</summary>
    public bool SingleRowOnCallingThread { get; init; }
}

/// <summary>
/// Scores a trained model in process. Two evaluation plans (dropout off, batch norm on running statistics) are
/// compiled once on a CPU backend of its own: one for single rows (<c>[1; …]</c>) and one for batches of up to
/// <see cref="MaxBatch"/> rows. Single rows come raw (a <see cref="RawRow"/> or strings in schema order, encoded
/// with the saved <see cref="FeatureSpace"/> as <c>ctr predict</c> encodes a file) or already encoded (global ids and
/// transformed numbers, as in a <see cref="Batch"/>). A single-row call allocates nothing in steady state.
/// </summary>
/// <remarks>
/// Not thread-safe: a predictor owns activation buffers, an encoder scratch and a row. A call that overlaps another
/// call on the same predictor throws <see cref="InvalidOperationException"/> instead of scoring from buffers the other
/// call is writing (an interlocked flag around each call: no lock, no allocation). Serve from several threads
/// with one predictor per thread, all made from the same graph: the plans bind the graph's parameter arrays without
/// copying them, so each extra predictor costs only its activations (about <c>MaxBatch</c> × the widest layers) and,
/// for single rows, a copy of the dense layers' weights packed for one row (<see cref="CpuBackend.PackSingleRowWeights"/>,
/// made on the first single-row call; it scores the same bits as the batch plan). That copy is native memory in 2 MiB
/// huge pages (DeepFM's: one page), so that one core's L2 holds every layer between calls; <see cref="Dispose"/> frees
/// it. Parameters must not change while a predictor exists: after more training or loading a checkpoint into the
/// graph, build new predictors.
/// </remarks>
public sealed class Predictor : IDisposable
{
    private readonly CpuBackend _backend = new();
    private readonly Scorer _one, _many;
    private readonly Batch _oneBatch, _manyBatch;
    private readonly RowEncoder _encoder;
    private readonly float[] _p = new float[1];
    private readonly bool _inline;
    /// <summary>1 while a call runs (<see cref="Enter"/>, <see cref="Exit"/>).</summary>
    private int _busy;

    /// <param name="graph">The model's graph, parameters holding the trained values.</param>
    /// <param name="output">The model's output node, <c>[batch; 1]</c>.</param>
    /// <param name="features">The features the model was trained on (vocabularies, numeric statistics).</param>
    /// <param name="options">Batch size and output link; defaults when null.</param>
    public Predictor(ExprGraph graph, Node output, FeatureSpace features, PredictorOptions? options = null)
    {
        options ??= new PredictorOptions();
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "BatchSize must be >= 1");
        if (output.Shape.Rank == 2 && output.Shape[1] != 1)
            throw new ArgumentException($"the predictor serves one output per row; this model has {output.Shape[1]} (a multi-task model: score it with ctr predict)");
        Features = features;
        _inline = options.SingleRowOnCallingThread;
        _encoder = new RowEncoder(features);
        var onePlan = Plan.Compile(graph, _backend, 1, null, output);
        var manyPlan = Plan.Compile(graph, _backend, options.BatchSize, null, output);
        // A single row, or a few (a micro-batch of requests), reads every dense layer's whole W for a few flops: read
        // it from copies packed for rows. The backend keys them by the parameter arrays, which both plans bind, so
        // declaring the one-row plan's parameters serves the batch plan too, with one copy per layer.
        _backend.PackSingleRowWeights(onePlan.Parameters.Select(p => onePlan.ValueOf(p).Buffer!));
        _one = new Scorer(onePlan, output, options.OutputIsLogit);
        _many = new Scorer(manyPlan, output, options.OutputIsLogit);
        _oneBatch = Batch.Plan(features.Schema, 1);
        _manyBatch = Batch.Plan(features.Schema, options.BatchSize);
        Row = _encoder.NewRow();
    }

    public FeatureSpace Features { get; }
    public Schema Schema => Features.Schema;
    /// <summary>Most rows one call of the batch plan scores.</summary>
    public int MaxBatch => _many.MaxBatch;
    /// <summary>Columns of an encoded row's ids: the categorical and bucketized fields in schema order.</summary>
    public int IdFieldCount => _oneBatch.IdFieldCount;
    /// <summary>Columns of an encoded row's numbers: the numeric fields in schema order.</summary>
    public int DenseFieldCount => _oneBatch.DenseFieldCount;

    /// <summary>This predictor's reusable row: set its fields, call <see cref="Predict(RawRow)"/>, and
    /// <see cref="RawRow.Clear"/> it (or overwrite every field) before the next row.</summary>
    public RawRow Row { get; }

    /// <summary>A fresh empty row for this predictor's schema.</summary>
    public RawRow NewRow() => _encoder.NewRow();

    /// <summary>The click probability of one raw row. Throws <see cref="ArgumentException"/> naming the field for a bad value.</summary>
    public float Predict(RawRow row)
    {
        Enter();
        try
        {
            _encoder.Encode(row, _oneBatch, 0);
            return ScoreOne();
        }
        finally { Exit(); }
    }

    /// <summary>The click probability of one raw row given as one value per field in schema order (null or "" is missing).</summary>
    public float Predict(ReadOnlySpan<string?> values)
    {
        Enter();
        try
        {
            _encoder.Encode(values, _oneBatch, 0);
            return ScoreOne();
        }
        finally { Exit(); }
    }

    /// <summary>
    /// The click probability of one encoded row: <paramref name="ids"/> holds <see cref="IdFieldCount"/> global ids
    /// and <paramref name="dense"/> <see cref="DenseFieldCount"/> transformed numbers. A schema with sequence fields
    /// needs <see cref="Predict(Batch, Span{float})"/>.
    /// </summary>
    public float PredictEncoded(ReadOnlySpan<int> ids, ReadOnlySpan<float> dense)
    {
        CheckEncoded(ids.Length, dense.Length, 1);
        Enter();
        try
        {
            ids.CopyTo(_oneBatch.Ids);
            dense.CopyTo(_oneBatch.Dense);
            _oneBatch.Rows = 1;
            return ScoreOne();
        }
        finally { Exit(); }
    }

    /// <summary>
    /// Scores encoded rows, <c>ids</c> <c>[rows; IdFieldCount]</c> and <c>dense</c> <c>[rows; DenseFieldCount]</c>
    /// row-major, in pieces of <see cref="MaxBatch"/> rows, writing one probability per row into
    /// <paramref name="destination"/>. A schema with sequence fields needs <see cref="Predict(Batch, Span{float})"/>.
    /// </summary>
    public void PredictEncoded(ReadOnlySpan<int> ids, ReadOnlySpan<float> dense, Span<float> destination)
    {
        int nIds = IdFieldCount, nDense = DenseFieldCount;
        int rows = nIds > 0 ? ids.Length / nIds : nDense > 0 ? dense.Length / nDense : 0;
        CheckEncoded(ids.Length, dense.Length, rows);
        if (destination.Length < rows)
            throw new ArgumentException($"destination holds {destination.Length} scores, the input has {rows} rows", nameof(destination));
        Enter();
        try
        {
            for (int start = 0; start < rows; start += MaxBatch)
            {
                int n = Math.Min(MaxBatch, rows - start);
                ids.Slice(start * nIds, n * nIds).CopyTo(_manyBatch.Ids);
                dense.Slice(start * nDense, n * nDense).CopyTo(_manyBatch.Dense);
                _manyBatch.Rows = n;
                _many.Score(_manyBatch, destination.Slice(start, n));
            }
        }
        finally { Exit(); }
    }

    /// <summary>Scores the first <c>batch.Rows</c> (at most <see cref="MaxBatch"/>) rows of an encoded batch shaped for this schema.</summary>
    public void Predict(Batch batch, Span<float> destination)
    {
        if (batch.IdFieldCount != IdFieldCount || batch.DenseFieldCount != DenseFieldCount || batch.Sequences.Length != _oneBatch.Sequences.Length)
            throw new ArgumentException("the batch is shaped for another schema", nameof(batch));
        if (batch.Rows > MaxBatch)
            throw new ArgumentException($"a batch of {batch.Rows} rows does not fit this predictor's batch plan of {MaxBatch}; set PredictorOptions.BatchSize", nameof(batch));
        if (destination.Length < batch.Rows)
            throw new ArgumentException($"destination holds {destination.Length} scores, the batch has {batch.Rows} rows", nameof(destination));
        Enter();
        try { (batch.Rows == 1 ? _one : _many).Score(batch, destination); }
        finally { Exit(); }
    }

    /// <summary>Claims the predictor for one call; a second thread inside a call at the same time is a caller's bug
    /// that would otherwise return wrong scores silently. Call before <c>try</c>, so that a refused call does not
    /// release the claim of the call it collided with.</summary>
    private void Enter()
    {
        if (Interlocked.Exchange(ref _busy, 1) != 0) ThrowConcurrentUse();
    }

    private void Exit() => Volatile.Write(ref _busy, 0);

    private static void ThrowConcurrentUse() =>
        throw new InvalidOperationException(
            "Predictor: called from two threads at once; a predictor is not thread-safe: use one predictor per thread (they share the parameters)");

    private float ScoreOne()
    {
        if (_inline)
        {
            using var scope = WorkerPool.CallingThreadOnly();
            _one.Score(_oneBatch, _p);
        }
        else _one.Score(_oneBatch, _p);
        return _p[0];
    }

    private void CheckEncoded(int ids, int dense, int rows)
    {
        if (_oneBatch.Sequences.Length > 0)
            throw new NotSupportedException("the schema has sequence fields: score encoded rows through Predict(Batch, …)");
        if (ids != rows * IdFieldCount || dense != rows * DenseFieldCount)
            throw new ArgumentException(
                $"expected {IdFieldCount} ids and {DenseFieldCount} numbers per row ({rows} rows: {rows * IdFieldCount} ids, {rows * DenseFieldCount} numbers), got {ids} ids and {dense} numbers");
    }

    /// <summary>Frees the packed weights. Throws <see cref="InvalidOperationException"/> when a call is in flight on
    /// another thread (whose kernels read them); a call after disposal scores from the parameters as they lie.</summary>
    public void Dispose()
    {
        Enter();
        try { _backend.Dispose(); }
        finally { Exit(); }
    }
}
