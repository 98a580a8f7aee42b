using System.Collections.Concurrent;
using CtrDsl.Data;

namespace CtrDsl.Serving;

/// <summary>
/// A thread-safe scorer: <see cref="Predictor"/>s made on demand by a factory and lent out one call at a time, so
/// that any number of threads may share one pool. A call takes an idle predictor (or makes one when every predictor
/// is busy), scores, and puts it back; the pool so grows to the peak number of concurrent callers and no further.
/// Predictors made from the same graph share its parameters (see <see cref="Predictor"/>), so each one costs only its
/// activations and, once it has scored a single row, its own copy of the dense layers packed for one row (DeepFM's:
/// one 2 MiB huge page). The scores are those of the predictor itself: the pool adds no arithmetic.
/// </summary>
/// <remarks>
/// Lending costs one <see cref="ConcurrentBag{T}"/> take and add per call and allocates nothing in steady state.
/// For work that spans several calls on one predictor (set a <see cref="Predictor.Row"/>, then predict), take a
/// <see cref="Lease"/> with <see cref="Rent"/> and dispose it when done. Parameters must not be trained while the
/// pool's predictors read them.
/// </remarks>
public sealed class PredictorPool : IDisposable
{
    private readonly Func<Predictor> _create;
    private readonly ConcurrentBag<Predictor> _idle = new();
    private readonly ConcurrentQueue<Predictor> _all = new();
    private int _disposed;

    /// <param name="create">Makes one predictor; called the first time, and whenever every predictor is lent out.</param>
    public PredictorPool(Func<Predictor> create)
    {
        _create = create ?? throw new ArgumentNullException(nameof(create));
        var first = create();
        Schema = first.Schema;
        MaxBatch = first.MaxBatch;
        _all.Enqueue(first);
        _idle.Add(first);
    }

    public Schema Schema { get; }
    /// <summary>Most rows one <see cref="Predict(Batch, Span{float})"/> call scores (the predictors' batch plan).</summary>
    public int MaxBatch { get; }
    /// <summary>Predictors made so far: the peak number of concurrent callers.</summary>
    public int Count => _all.Count;

    /// <summary>One predictor for the caller alone until the lease is disposed.</summary>
    public Lease Rent()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (!_idle.TryTake(out var p))
        {
            p = _create();
            _all.Enqueue(p);
        }
        return new Lease(this, p);
    }

    /// <summary>As <see cref="Predictor.Predict(ReadOnlySpan{string})"/>, from any thread.</summary>
    public float Predict(ReadOnlySpan<string?> values)
    {
        using var lease = Rent();
        return lease.Predictor.Predict(values);
    }

    /// <summary>As <see cref="Predictor.PredictEncoded(ReadOnlySpan{int}, ReadOnlySpan{float}, Span{float})"/>, from any thread.</summary>
    public void PredictEncoded(ReadOnlySpan<int> ids, ReadOnlySpan<float> dense, Span<float> destination)
    {
        using var lease = Rent();
        lease.Predictor.PredictEncoded(ids, dense, destination);
    }

    /// <summary>As <see cref="Predictor.Predict(Batch, Span{float})"/>, from any thread.</summary>
    public void Predict(Batch batch, Span<float> destination)
    {
        using var lease = Rent();
        lease.Predictor.Predict(batch, destination);
    }

    /// <summary>Disposes every predictor; call once no lease is out.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        while (_all.TryDequeue(out var p)) p.Dispose();
    }

    /// <summary>A predictor lent by a pool; disposing it gives the predictor back.</summary>
    public readonly struct Lease : IDisposable
    {
        private readonly PredictorPool _pool;

        internal Lease(PredictorPool pool, Predictor predictor)
        {
            _pool = pool;
            Predictor = predictor;
        }

        public Predictor Predictor { get; }

        public void Dispose() => _pool?._idle.Add(Predictor);
    }
}
