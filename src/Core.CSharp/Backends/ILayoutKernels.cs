namespace CtrDsl.Backends;

/// <summary>The layout family: copies that move values without changing them (Concat, Slice, Transpose).</summary>
public interface ILayoutKernels
{
    /// <summary>Strided block copy: <paramref name="rows"/> rows of <paramref name="width"/> values; y (+)= x.</summary>
    void CopyRows(int rows, int width, BufferView x, int xStride, BufferView y, int yStride, bool accumulate);
    /// <summary>y = x with its axes permuted: y's axis d is x's axis perm[d]. y (+)= when accumulating.</summary>
    void Permute(ReadOnlySpan<int> xDims, ReadOnlySpan<int> perm, BufferView x, BufferView y, bool accumulate);
}
