using System.Numerics.Tensors;
using CtrDsl.Backends;

namespace CtrDsl.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void CopyRows(int rows, int width, BufferView x, int xStride, BufferView y, int yStride, bool accumulate)
    {
        if (y.IsEmpty || width == 0 || rows == 0) return;
        var xs = F(x);
        var ys = F(y);
        fixed (float* px = xs, py = ys)
        {
            // Rows are independent: large copies (a concatenation's) run over fixed chunks of rows on the pool.
            var job = new CopyRowsJob
            {
                Width = width, XStride = xStride, YStride = yStride, Accumulate = accumulate, X = px, Y = py, Rows = rows,
                RowsPerChunk = Math.Max(1, ElementChunks.Size / width),
            };
            ElementChunks.For((rows + job.RowsPerChunk - 1) / job.RowsPerChunk, (long)rows * width, ref job);
        }
    }

    private struct CopyRowsJob : IParallelJob
    {
        public int Width, XStride, YStride, Rows, RowsPerChunk;
        public bool Accumulate;
        public float* X, Y;

        public readonly void Run(int chunk)
        {
            int r0 = chunk * RowsPerChunk, r1 = Math.Min(Rows, r0 + RowsPerChunk);
            for (int r = r0; r < r1; r++)
            {
                var src = new ReadOnlySpan<float>(X + (long)r * XStride, Width);
                var dst = new Span<float>(Y + (long)r * YStride, Width);
                if (Accumulate) TensorPrimitives.Add(src, dst, dst);
                else src.CopyTo(dst);
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
