using CtrDsl.Backends;

namespace CtrDsl.OpenCl;

public sealed partial class OpenClBackend
{
    public void CopyRows(int rows, int width, BufferView x, int xStride, BufferView y, int yStride, bool accumulate)
    {
        if (y.IsEmpty || width == 0) return;
        K("copy_rows").Int(width).Buf(x).Int(xStride).Buf(y).Int(yStride).Int(accumulate ? 1 : 0).Run((long)rows * width);
    }

    private const int MaxRank = 8;

    public void Permute(ReadOnlySpan<int> xDims, ReadOnlySpan<int> perm, BufferView x, BufferView y, bool accumulate)
    {
        if (y.IsEmpty) return;
        int rank = xDims.Length;
        if (rank > MaxRank) throw new ArgumentException($"permute: at most {MaxRank} axes on OpenCL, got {rank}");
        Span<int> xStride = stackalloc int[rank];
        int s = 1;
        for (int d = rank - 1; d >= 0; d--) { xStride[d] = s; s *= xDims[d]; }
        // y's axes right-aligned in 8 slots; the unused leading slots have size 1 and stride 0.
        Span<int> dims = stackalloc int[MaxRank];
        Span<int> steps = stackalloc int[MaxRank];
        dims.Fill(1);
        steps.Clear();
        for (int d = 0; d < rank; d++)
        {
            dims[MaxRank - rank + d] = xDims[perm[d]];
            steps[MaxRank - rank + d] = xStride[perm[d]];
        }
        K("permute").Int8(dims).Int8(steps).Buf(x).Buf(y).Int(accumulate ? 1 : 0).Run(s);
    }
}
