using CtrDsl.Backends;
using TorchSharp;
using static TorchSharp.torch;

namespace CtrDsl.Torch;

public sealed partial class TorchBackend
{
    public void CopyRows(int rows, int width, BufferView x, int xStride, BufferView y, int yStride, bool accumulate)
    {
        if (y.IsEmpty || width == 0 || rows == 0) return;
        using var scope = NewDisposeScope();
        var (xs, ys) = (M(x, rows, width, xStride), M(y, rows, width, yStride));
        if (accumulate) ys.add_(xs); else ys.copy_(xs);
    }

    public void Permute(ReadOnlySpan<int> xDims, ReadOnlySpan<int> perm, BufferView x, BufferView y, bool accumulate)
    {
        if (y.IsEmpty) return;
        var dims = new long[xDims.Length];
        var order = new long[perm.Length];
        var yDims = new long[perm.Length];
        long n = 1;
        for (int d = 0; d < dims.Length; d++) { dims[d] = xDims[d]; n *= dims[d]; }
        for (int d = 0; d < order.Length; d++) { order[d] = perm[d]; yDims[d] = dims[perm[d]]; }
        if (n == 0) return;
        using var scope = NewDisposeScope();
        var moved = T(x, dims).permute(order);
        var ys = T(y, yDims);
        if (accumulate) ys.add_(moved); else ys.copy_(moved);
    }
}
