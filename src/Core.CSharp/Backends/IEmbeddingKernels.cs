namespace CtrDsl.Backends;

/// <summary>The embedding family: pooled table lookups with dense or row-sparse gradients, and crossed ids.</summary>
public interface IEmbeddingKernels
{
    /// <summary>ids [bags; len] (−1 pads) into table [rows; dim] → y [bags; dim], pooled by sum or mean
    /// (an all-padding bag gives zeros). A plain lookup is len = 1.</summary>
    void EmbeddingPool(int bags, int len, int dim, Pooling pooling, BufferView ids, BufferView table, BufferView y);
    /// <summary>Dense table gradient: dtable[id] += dy[bag] (÷ count for mean).</summary>
    void EmbeddingPoolBackward(int bags, int len, int dim, Pooling pooling, BufferView ids, BufferView dy, BufferView dtable);
    /// <summary>Row-sparse table gradient into the step's accumulator.</summary>
    void EmbeddingPoolBackward(int bags, int len, int dim, Pooling pooling, BufferView ids, BufferView dy, SparseRowAccumulator dtable);
    /// <summary>y[i] = 1 where ids[i] ≥ 0 and 0 where it pads (−1): the valid positions of n padded sequence ids.</summary>
    void PaddingMask(int n, BufferView ids, BufferView y);
    /// <summary>x [bags; len; dim] pooled over the positions where ids [bags; len] ≥ 0 → y [bags; dim]: sum, mean or
    /// max; a bag with no valid position gives zeros.</summary>
    void MaskedPool(int bags, int len, int dim, SequencePooling pooling, BufferView x, BufferView ids, BufferView y);
    /// <summary>dx[bag, t] += dy[bag] at every valid t (÷ count for mean), or at the first valid t holding the max.</summary>
    void MaskedPoolBackward(int bags, int len, int dim, SequencePooling pooling, BufferView x, BufferView ids, BufferView dy, BufferView dx);
    /// <summary>Crossed ids: y[b, g] = hash(ids[b, f] for f in group g) mod buckets; groups are
    /// fields[starts[g] .. starts[g+1]). The hash is fixed (SplitMix64 over the ids), so it is the same everywhere.</summary>
    void HashCross(int batch, int fields, ReadOnlySpan<int> groupFields, ReadOnlySpan<int> groupStarts, int buckets, BufferView ids, BufferView y);
}
