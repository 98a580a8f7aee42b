using System.Numerics.Tensors;
using CtrDsl.Data;
using CtrDsl.Optim;
using CtrDsl.Tensors;

namespace CtrDsl.Distributed;

/// <summary>
/// Embedding tables sharded row-wise over the ranks: global id g is owned by rank g mod n and sits at row g div n of
/// that rank's shard, so a rank holds ⌈rows/n⌉ rows of every table and of the lazy optimizer state for them. The
/// plan knows nothing of this: the model is built with a compact working table of <see cref="Capacity"/> rows per
/// sharded table, and each step
/// <list type="number">
/// <item><see cref="Fetch"/>: the batch's distinct ids (id columns and multi-valued fields, −1 padding skipped) are
/// numbered 0, 1, … in order of first appearance, the batch's ids are rewritten to those working slots, the ids go
/// to their owners (all-to-all, each id once per rank), and the owners' rows come back into the working tables;</item>
/// <item>the plan runs forward and backward on the working tables unchanged;</item>
/// <item><see cref="Update"/>: each working table's row-sparse gradient, weighted by the rank's share of the step's
/// rows, goes back to the owners (all-to-all of ids and values); each owner merges the rows in rank order and its
/// optimizer (the same rule as the dense parameters, on the shard parameters) updates the touched shard rows.</item>
/// </list>
/// Every table listed shares the one id space and so one remapping. Against one process the only difference is
/// the order of summation of a row's gradient (each rank's partial sum, then the ranks in order), as for replicated
/// tables. CPU only: the working tables are read and written through <see cref="Parameter.Value"/>.
/// Buffers are sized for the working capacity at construction and double only when a step receives more, so a
/// steady step allocates nothing.
/// </summary>
public sealed class ShardedTables
{
    private readonly ICommunicator _comm;
    private readonly int _n, _rank;
    private readonly Parameter[] _working;
    private readonly Dictionary<int, int> _slotOf;
    private readonly int[] _idOfSlot, _order, _sendIds, _sendCounts, _recvCounts, _valueSend, _valueRecv, _matrix;
    private readonly Parameter[] _shards;
    private readonly RowSparseGrad[] _merged;
    private readonly int[] _slotOfShardRow;
    private readonly int _maxDim;
    // What a rank receives is about the capacity when the ranks' ids differ, and up to n times it when they are the
    // same: these start at the capacity and double when a step needs more, instead of reserving n times it.
    private int[] _recvIds;
    private float[] _sendValues, _recvValues;
    private int _count, _requests;

    /// <param name="comm">The ranks.</param>
    /// <param name="working">The model's tables indexed by the global ids, each [capacity; dim] in the plan.</param>
    /// <param name="globalRows">Rows of the global id space (the tables' size in one process).</param>
    /// <param name="optimizerFor">Builds the update rule for the shard parameters.</param>
    public ShardedTables(ICommunicator comm, IReadOnlyList<Parameter> working, int globalRows, Func<IReadOnlyList<Parameter>, Optimizer> optimizerFor)
    {
        if (working.Count == 0) throw new ArgumentException("no table to shard");
        _comm = comm;
        _n = comm.Size;
        _rank = comm.Rank;
        _working = working.ToArray();
        Capacity = _working[0].Shape[0];
        foreach (var w in _working)
            if (!w.IsSparse || w.Shape[0] != Capacity)
                throw new ArgumentException($"{w.Name} [{string.Join("; ", w.Shape)}]: a sharded table is a sparse [{Capacity}; dim] working table");
        GlobalRows = globalRows;
        int shardRows = ShardRows(globalRows, _n, _rank);
        _shards = _working.Select(w => new Parameter(w.Name, [shardRows, w.RowDim], isSparse: true) { L2 = w.L2, Group = w.Group }).ToArray();
        _maxDim = _working.Max(w => w.RowDim);
        _merged = _shards.Select(s => s.SparseGrad = new RowSparseGrad(Math.Min(Capacity, shardRows), s.RowDim)).ToArray();
        _slotOfShardRow = Enumerable.Repeat(-1, shardRows).ToArray();
        _slotOf = new Dictionary<int, int>(Capacity);
        _idOfSlot = new int[Capacity];
        _order = new int[Capacity];
        _sendIds = new int[Capacity];
        _recvIds = new int[Capacity];
        _sendCounts = new int[_n];
        _recvCounts = new int[_n];
        _valueSend = new int[_n];
        _valueRecv = new int[_n];
        _matrix = new int[_n * _n];
        _sendValues = new float[(long)Capacity * _maxDim];
        _recvValues = new float[(long)Capacity * _maxDim];
        Optimizer = optimizerFor(_shards);
    }

    /// <summary>Rows of rank <paramref name="rank"/>'s shard of <paramref name="globalRows"/> rows over
    /// <paramref name="ranks"/> ranks: the ids g &lt; globalRows with g mod ranks = rank.</summary>
    public static int ShardRows(int globalRows, int ranks, int rank) => (globalRows - rank + ranks - 1) / ranks;

    /// <summary>Rows of each working table: the most distinct ids one batch (training share or scored batch) has.</summary>
    public int Capacity { get; }

    public int GlobalRows { get; }

    /// <summary>This rank's place in the group (a checkpoint's main file is written by rank 0 alone).</summary>
    public int Rank => _rank;

    /// <summary>How many ranks the tables are sharded over.</summary>
    public int Ranks => _n;

    /// <summary>The ranks (a checkpoint's writers agree through it).</summary>
    public ICommunicator Group => _comm;

    /// <summary>This rank's shards, in the order of the working tables and with their names.</summary>
    public IReadOnlyList<Parameter> Shards => _shards;

    /// <summary>The update rule of the shards; <see cref="Update"/> keeps its learning rate with the dense one.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>
    /// Rewrites <paramref name="batch"/>'s ids to working slots and fills the working tables with their rows from the
    /// owners. Every rank calls it once per step; a rank with nothing to score passes null and still serves the
    /// others' requests. An id outside [0, <see cref="GlobalRows"/>) throws.
    /// </summary>
    public void Fetch(Batch? batch)
    {
        _slotOf.Clear();
        _count = 0;
        if (batch is not null)
        {
            Remap(batch.Ids.AsSpan(0, batch.Rows * batch.IdFieldCount));
            for (int s = 0; s < batch.Sequences.Length; s++)
                Remap(batch.Sequences[s].AsSpan(0, batch.Rows * batch.SequenceMaxLengths[s]));
        }

        // Requests grouped by owner, in slot order within an owner.
        Array.Clear(_sendCounts);
        for (int i = 0; i < _count; i++) _sendCounts[_idOfSlot[i] % _n]++;
        int[] at = _valueSend;
        for (int q = 0, a = 0; q < _n; a += _sendCounts[q], q++) at[q] = a;
        for (int i = 0; i < _count; i++)
        {
            int p = at[_idOfSlot[i] % _n]++;
            _order[p] = i;
            _sendIds[p] = _idOfSlot[i];
        }
        _requests = ExchangeIds(_count);

        foreach (var (w, shard) in _working.Zip(Shards))
        {
            int dim = w.RowDim;
            for (int i = 0; i < _requests; i++)
                shard.Value.AsSpan(_recvIds[i] / _n * dim, dim).CopyTo(_sendValues.AsSpan(i * dim));
            // The replies go back along the requests' paths: what was received from r is sent to r.
            for (int r = 0; r < _n; r++)
            {
                _valueSend[r] = _recvCounts[r] * dim;
                _valueRecv[r] = _sendCounts[r] * dim;
            }
            _comm.AllToAllV(_sendValues, _valueSend, _recvValues, _valueRecv);
            for (int p = 0; p < _count; p++)
                _recvValues.AsSpan(p * dim, dim).CopyTo(w.Value.AsSpan(_order[p] * dim));
        }
    }

    private void Remap(Span<int> ids)
    {
        for (int i = 0; i < ids.Length; i++)
        {
            int id = ids[i];
            if (id < 0) continue;
            if ((uint)id >= (uint)GlobalRows)
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"id {id} is outside the sharded tables' {GlobalRows} rows");
            if (!_slotOf.TryGetValue(id, out int slot))
            {
                if (_count == Capacity)
                    throw new InvalidOperationException($"the batch has more than {Capacity} distinct ids, the working tables' capacity");
                slot = _count++;
                _slotOf.Add(id, slot);
                _idOfSlot[slot] = id;
            }
            ids[i] = slot;
        }
    }

    /// <summary>Sends _sendIds (grouped by _sendCounts) to their owners; returns how many arrived in _recvIds.</summary>
    private int ExchangeIds(int count)
    {
        _comm.AllGather(_sendCounts, _matrix);
        int total = 0;
        for (int r = 0; r < _n; r++) total += _recvCounts[r] = _matrix[r * _n + _rank];
        if (total > _recvIds.Length)
        {
            int grown = Math.Max(total, 2 * _recvIds.Length);
            _recvIds = new int[grown];
            _sendValues = new float[(long)grown * _maxDim];
            _recvValues = new float[(long)grown * _maxDim];
        }
        _comm.AllToAllV(_sendIds.AsSpan(0, count), _sendCounts, _recvIds, _recvCounts);
        return total;
    }

    /// <summary>
    /// Sends each working table's gradient rows, times <paramref name="weight"/> (this rank's rows over the step's
    /// rows), to their owners, merges them in rank order and applies <see cref="Optimizer"/> at
    /// <paramref name="learningRate"/>. Every rank calls it once per training step, after the backward pass.
    /// </summary>
    public void Update(float weight, float learningRate)
    {
        for (int t = 0; t < _working.Length; t++)
        {
            Parameter w = _working[t], shard = Shards[t];
            var merged = _merged[t];
            var g = w.SparseGrad ?? throw new InvalidOperationException($"{w.Name}: the plan has not given the table its accumulator");
            int dim = w.RowDim, count = g.Count;
            Array.Clear(_sendCounts);
            for (int i = 0; i < count; i++) _sendCounts[_idOfSlot[g.Rows[i]] % _n]++;
            int[] at = _valueSend;
            for (int q = 0, a = 0; q < _n; a += _sendCounts[q], q++) at[q] = a;
            for (int i = 0; i < count; i++)
            {
                int id = _idOfSlot[g.Rows[i]], p = at[id % _n]++;
                _sendIds[p] = id;
                TensorPrimitives.Multiply(g.Row(i), weight, _sendValues.AsSpan(p * dim, dim));
            }
            int total = ExchangeIds(count);
            for (int r = 0; r < _n; r++)
            {
                _valueSend[r] = _sendCounts[r] * dim;
                _valueRecv[r] = _recvCounts[r] * dim;
            }
            _comm.AllToAllV(_sendValues, _valueSend, _recvValues, _valueRecv);

            // Merge in rank order: a row seen again adds to its slot.
            if (merged.Rows.Length < Math.Min(total, shard.Shape[0]))
                shard.SparseGrad = merged = _merged[t] = new RowSparseGrad(Math.Min(Math.Max(total, 2 * merged.Rows.Length), shard.Shape[0]), dim);
            merged.Count = 0;
            for (int i = 0; i < total; i++)
            {
                int row = _recvIds[i] / _n;
                var v = _recvValues.AsSpan(i * dim, dim);
                int slot = _slotOfShardRow[row];
                if (slot < 0)
                {
                    slot = _slotOfShardRow[row] = merged.Count++;
                    merged.Rows[slot] = row;
                    v.CopyTo(merged.Row(slot));
                }
                else TensorPrimitives.Add(merged.Row(slot), v, merged.Row(slot));
            }
            for (int s = 0; s < merged.Count; s++) _slotOfShardRow[merged.Rows[s]] = -1;
        }
        Optimizer.LearningRate = learningRate;
        Optimizer.Step();
    }

    /// <summary>
    /// Draws this rank's rows of every table as the model over the whole id space would initialise them (the
    /// working table's <see cref="Parameter.Drawn"/>, at the global shape): the same values as one process, without a
    /// whole table on any rank. A table not drawn from an initializer keeps zeros (give it rows with <see cref="Scatter"/>).
    /// </summary>
    public void Initialize()
    {
        for (int t = 0; t < _working.Length; t++)
            _working[t].Drawn?.FillShard(_shards[t].Name, _shards[t].Value, [GlobalRows, _shards[t].RowDim], _rank, _n);
    }

    /// <summary>Every rank gets table <paramref name="index"/>'s whole [GlobalRows; dim] values, in global id order
    /// (a checkpoint's or a test's view; it allocates the whole table).</summary>
    public float[] Gather(int index) => GatherRows(Shards[index].Value, Shards[index].RowDim);

    /// <summary>As <see cref="Gather"/>, for any per-row array of the shard (optimizer state) of <paramref name="width"/> values a row.</summary>
    public float[] GatherRows(float[] shard, int width)
    {
        var counts = new int[_n];
        for (int r = 0; r < _n; r++) counts[r] = ShardRows(GlobalRows, _n, r) * width;
        var all = new float[(long)GlobalRows * width];
        var ranked = new float[all.Length];
        _comm.AllGatherV(shard, ranked, counts);
        int from = 0;
        for (int r = 0; r < _n; r++)
        {
            int rows = counts[r] / width;
            for (int l = 0; l < rows; l++)
                ranked.AsSpan(from + l * width, width).CopyTo(all.AsSpan((int)(((long)l * _n + r) * width)));
            from += counts[r];
        }
        return all;
    }

    /// <summary>Sets this rank's shard of table <paramref name="index"/> from the whole [GlobalRows; dim] values.</summary>
    public void Scatter(int index, ReadOnlySpan<float> all) => ScatterRows(all, Shards[index].Value, Shards[index].RowDim);

    /// <summary>As <see cref="Scatter"/>, for any per-row array of <paramref name="width"/> values a row.</summary>
    public void ScatterRows(ReadOnlySpan<float> all, Span<float> shard, int width)
    {
        if (all.Length != (long)GlobalRows * width)
            throw new ArgumentException($"expected {GlobalRows} rows of {width} values, got {all.Length} values");
        int rows = shard.Length / width;
        for (int l = 0; l < rows; l++)
            all.Slice((int)(((long)l * _n + _rank) * width), width).CopyTo(shard[(l * width)..]);
    }
}
