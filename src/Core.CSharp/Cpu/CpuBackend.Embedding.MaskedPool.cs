using CtrDsl.Backends;

namespace CtrDsl.Cpu;

// Masked pooling of a padded sequence of vectors. Bags are few and short (a history of tens of positions), so the
// loops run on the calling thread in bag order: the same result for any thread count.
public sealed partial class CpuBackend
{
    public void MaskedPool(int bags, int len, int dim, SequencePooling pooling, BufferView x, BufferView ids, BufferView y)
    {
        var xs = F(x);
        var id = I(ids);
        var ys = F(y)[..(bags * dim)];
        ys.Clear();
        for (int bag = 0; bag < bags; bag++)
        {
            var yr = ys.Slice(bag * dim, dim);
            int n = 0;
            for (int t = 0; t < len; t++)
            {
                if (id[bag * len + t] < 0) continue; // padding
                var xr = xs.Slice((bag * len + t) * dim, dim);
                for (int i = 0; i < dim; i++)
                    yr[i] = pooling != SequencePooling.Max ? yr[i] + xr[i] : n == 0 || xr[i] > yr[i] ? xr[i] : yr[i];
                n++;
            }
            if (pooling == SequencePooling.Mean && n > 1)
                for (int i = 0; i < dim; i++) yr[i] /= n;
        }
    }

    public void MaskedPoolBackward(int bags, int len, int dim, SequencePooling pooling, BufferView x, BufferView ids,
        BufferView dy, BufferView dx)
    {
        var xs = F(x);
        var id = I(ids);
        var g = F(dy);
        var d = F(dx);
        for (int bag = 0; bag < bags; bag++)
        {
            var gr = g.Slice(bag * dim, dim);
            if (pooling == SequencePooling.Max)
            {
                for (int i = 0; i < dim; i++)
                {
                    int best = -1;
                    for (int t = 0; t < len; t++)
                        if (id[bag * len + t] >= 0 && (best < 0 || xs[(bag * len + t) * dim + i] > xs[(bag * len + best) * dim + i]))
                            best = t;
                    if (best >= 0) d[(bag * len + best) * dim + i] += gr[i];
                }
                continue;
            }
            int n = 0;
            for (int t = 0; t < len; t++) if (id[bag * len + t] >= 0) n++;
            float scale = pooling == SequencePooling.Mean && n > 1 ? 1f / n : 1f;
            for (int t = 0; t < len; t++)
            {
                if (id[bag * len + t] < 0) continue;
                var dr = d.Slice((bag * len + t) * dim, dim);
                for (int i = 0; i < dim; i++) dr[i] += scale * gr[i];
            }
        }
    }
}
