using System.Numerics.Tensors;
using CtrDsl.Backends;

namespace CtrDsl.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void ReduceAxis(int outer, int len, int inner, float scale, BufferView x, BufferView y, bool accumulate)
    {
        if (y.IsEmpty) return;
        var xs = F(x);
        var ys = F(y);
        for (int o = 0; o < outer; o++)
        {
            var yr = ys.Slice(o * inner, inner);
            if (!accumulate) yr.Clear();
            if (inner == 1)
            {
                // Short rows (a sum over fields): a plain loop beats a library call per row.
                var row = xs.Slice(o * len, len);
                float sum = 0f;
                if (len < 64) foreach (var v in row) sum += v;
                else sum = TensorPrimitives.Sum(row);
                yr[0] += scale * sum;
                continue;
            }
            var block = xs.Slice(o * len * inner, len * inner);
            if (scale == 1f)
                for (int l = 0; l < len; l++) TensorPrimitives.Add(yr, block.Slice(l * inner, inner), yr);
            else
                for (int l = 0; l < len; l++) TensorPrimitives.MultiplyAdd(block.Slice(l * inner, inner), scale, yr, yr);
        }
    }

    public void BroadcastAxis(int outer, int len, int inner, float scale, BufferView dy, BufferView dx)
    {
        if (dx.IsEmpty) return;
        var dys = F(dy);
        var dxs = F(dx);
        for (int o = 0; o < outer; o++)
        {
            if (inner == 1)
            {
                // One value spread over a row: one call per row, not one per element.
                var row = dxs.Slice(o * len, len);
                TensorPrimitives.Add(row, dys[o] * scale, row);
                continue;
            }
            var g = dys.Slice(o * inner, inner);
            for (int l = 0; l < len; l++)
            {
                var d = dxs.Slice((o * len + l) * inner, inner);
                TensorPrimitives.MultiplyAdd(g, scale, d, d);
            }
        }
    }

    public void Permute(ReadOnlySpan<int> xDims, ReadOnlySpan<int> perm, BufferView x, BufferView y, bool accumulate)
    {
        if (y.IsEmpty) return;
        int rank = xDims.Length;
        Span<int> xStride = stackalloc int[rank];
        Span<int> yDims = stackalloc int[rank];
        Span<int> step = stackalloc int[rank]; // x-stride of each y axis
        Span<int> idx = stackalloc int[rank];
        int s = 1;
        for (int d = rank - 1; d >= 0; d--) { xStride[d] = s; s *= xDims[d]; }
        for (int d = 0; d < rank; d++) { yDims[d] = xDims[perm[d]]; step[d] = xStride[perm[d]]; }
        var xs = F(x);
        var ys = F(y);
        int total = s, src = 0;
        if (total == 0) return;
        for (int i = 0; i < total; i++)
        {
            if (accumulate) ys[i] += xs[src]; else ys[i] = xs[src];
            // Odometer over y's index, keeping the matching x offset.
            for (int d = rank - 1; d >= 0; d--)
            {
                src += step[d];
                if (++idx[d] < yDims[d]) break;
                src -= step[d] * yDims[d];
                idx[d] = 0;
            }
        }
    }
}
