using System.Runtime.InteropServices;
using CtrDsl.Backends;
using TorchSharp;
using static TorchSharp.torch;

namespace CtrDsl.Torch;

// The lookup is index_select over the ids (padding −1 reads row 0 and is masked out). The gradients go through
// index_add_ with the lookups grouped on the host, from the copy Upload keeps of every id buffer: each entry is
// (target row or slot, bag, scale), in bag order. On the CPU index_add_ adds the entries one after another in index
// order, so it is deterministic and sums each row in the CPU backend's order; on CUDA it uses atomic adds, so the
// order of a row's sums may vary between runs unless torch's deterministic algorithms are switched on (docs/gpu.md).
// A sparse table's accumulator hands out its slots on the host (SparseRowAccumulator.HandOut), in the CPU backend's layout.
public sealed partial class TorchBackend
{
    public void HashCross(int batch, int fields, ReadOnlySpan<int> groupFields, ReadOnlySpan<int> groupStarts, int buckets,
        BufferView ids, BufferView y)
    {
        int n = batch * (groupStarts.Length - 1);
        var crossed = new int[n];
        HashCrossKernel.Compute(batch, fields, groupFields, groupStarts, buckets, HostIds(ids, batch * fields), crossed);
        Upload(crossed, y.Take(n));
    }

    public void PaddingMask(int n, BufferView ids, BufferView y)
    {
        if (n == 0) return;
        using var scope = NewDisposeScope();
        T(y.Take(n)).copy_(T(ids.Take(n)).ge(0).to(ScalarType.Float32));
    }

    public void MaskedPool(int bags, int len, int dim, SequencePooling pooling, BufferView x, BufferView ids, BufferView y) =>
        throw NoKernel("masked_pool");

    public void MaskedPoolBackward(int bags, int len, int dim, SequencePooling pooling, BufferView x, BufferView ids,
        BufferView dy, BufferView dx) => throw NoKernel("masked_pool");

    private static NotSupportedException NoKernel(string op) =>
        new($"{op}: the Torch backend has no kernel for this op yet; train this model on the CPU backend");

    public void EmbeddingPool(int bags, int len, int dim, Pooling pooling, BufferView ids, BufferView table, BufferView y)
    {
        if ((long)bags * dim == 0) return;
        int rows = (int)(table.Length / dim);
        CheckIds(HostIds(ids, bags * len), len, rows);
        using var scope = NewDisposeScope();
        var id = T(ids, bags, len).to(ScalarType.Int64);
        var present = id.ge(0);
        var rowsOut = T(table, rows, dim).index_select(0, id.clamp_min(0).flatten()).view(bags, len, dim);
        var s = rowsOut.mul(present.unsqueeze(-1)).sum(1);
        if (pooling == Pooling.Mean && len > 1) s = s.mul(present.sum(1).clamp_min(1).to(ScalarType.Float32).reciprocal().unsqueeze(-1));
        T(y, bags, dim).copy_(s);
    }

    public void EmbeddingPoolBackward(int bags, int len, int dim, Pooling pooling, BufferView ids, BufferView dy, BufferView dtable)
    {
        if (dtable.IsEmpty || dim == 0) return;
        int rows = (int)(dtable.Length / dim);
        var (targets, entryBags, scales) = Entries(bags, len, pooling, HostIds(ids, bags * len), rows, r => r);
        if (targets.Length == 0) return;
        using var scope = NewDisposeScope();
        T(dtable, rows, dim).IndexAdd(0, Index(targets), Rows(dy, bags, dim, entryBags, scales));
    }

    public void EmbeddingPoolBackward(int bags, int len, int dim, Pooling pooling, BufferView ids, BufferView dy, SparseRowAccumulator dtable)
    {
        int rows = dtable.Table.Shape[0];
        var host = HostIds(ids, bags * len);
        if (dim == 0) return;
        if (!dtable.DeviceRows.IsEmpty)
        {
            // Slots first touched now (those handed out from `before` on) are zeroed, then every entry is added into its slot.
            int before = dtable.Grad.Count;
            dtable.HandOut(host, bags, len);
            var fresh = Enumerable.Range(before, dtable.Grad.Count - before).ToArray();
            var (slots, entryBags, scales) = Entries(bags, len, pooling, host, rows, r => dtable.SlotFor(r, out _));
            if (slots.Length == 0) return;
            using var scope = NewDisposeScope();
            var device = T(dtable.DeviceRows, dtable.DeviceRows.Length / dim, dim);
            device.index_fill_(0, Index(fresh), 0f);
            device.IndexAdd(0, Index(slots), Rows(dy, bags, dim, entryBags, scales));
            return;
        }
        // Host rows: the sums per unique row (local slots in first-appearance order) come back and are added in.
        var unique = new List<int>();
        var local = new Dictionary<int, int>();
        var (targets, bagsOf, scalesOf) = Entries(bags, len, pooling, host, rows, r =>
        {
            if (!local.TryGetValue(r, out int u)) { u = unique.Count; local[r] = u; unique.Add(r); }
            return u;
        });
        if (targets.Length == 0) return;
        var sums = new float[unique.Count * dim];
        using (NewDisposeScope())
        {
            var staged = zeros([unique.Count, dim], ScalarType.Float32, TorchDevice);
            staged.IndexAdd(0, Index(targets), Rows(dy, bags, dim, bagsOf, scalesOf));
            staged.cpu().data<float>().CopyTo(sums);
        }
        int first = dtable.Grad.Count;
        dtable.HandOut(CollectionsMarshal.AsSpan(unique), bags, len);
        for (int u = 0; u < unique.Count; u++)
        {
            int slot = dtable.SlotFor(unique[u], out _);
            var row = dtable.Grad.Row(slot);
            if (slot >= first) row.Clear();
            var s = sums.AsSpan(u * dim, dim);
            for (int k = 0; k < dim; k++) row[k] += s[k];
        }
    }

    // scale·dy[bag] for each entry: [entries; dim].
    private Tensor Rows(BufferView dy, int bags, int dim, int[] entryBags, float[] scales)
    {
        var g = T(dy, bags, dim).index_select(0, Index(entryBags));
        return scales.All(s => s == 1f) ? g : g.mul(Floats(scales).unsqueeze(1));
    }

    /// <summary>One entry per present id, in bag order: its target (<paramref name="target"/> of its table row), its bag
    /// and its scale (1, or 1/n for a mean over n &gt; 1 present ids).</summary>
    private static (int[] Targets, int[] Bags, float[] Scales) Entries(int bags, int len, Pooling pooling, ReadOnlySpan<int> ids,
        int rows, Func<int, int> target)
    {
        CheckIds(ids, len, rows);
        var (targets, entryBags, scales) = (new List<int>(ids.Length), new List<int>(ids.Length), new List<float>(ids.Length));
        for (int bag = 0; bag < bags; bag++)
        {
            int present = 0;
            for (int l = 0; l < len; l++) if (ids[bag * len + l] >= 0) present++;
            float scale = pooling == Pooling.Mean && present > 1 ? 1f / present : 1f;
            for (int l = 0; l < len; l++)
            {
                int r = ids[bag * len + l];
                if (r < 0) continue;
                targets.Add(target(r));
                entryBags.Add(bag);
                scales.Add(scale);
            }
        }
        return (targets.ToArray(), entryBags.ToArray(), scales.ToArray());
    }

    private static void CheckIds(ReadOnlySpan<int> ids, int len, int rows)
    {
        for (int i = 0; i < ids.Length; i++)
            if (ids[i] >= rows) throw new IndexOutOfRangeException($"embedding: id {ids[i]} in row {i / Math.Max(len, 1)} is outside the table's {rows} rows");
    }

    /// <summary>The ids a view holds, from the host copy Upload kept, or read back when the ids were made on the device.</summary>
    private ReadOnlySpan<int> HostIds(BufferView ids, int n)
    {
        var b = (TorchBuffer)ids.Buffer!;
        if (b.HostInts is { } host) return host.AsSpan(checked((int)ids.Offset), n);
        var read = new int[n];
        Download(ids, read);
        return read;
    }
}
