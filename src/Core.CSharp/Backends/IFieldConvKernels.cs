namespace CtrDsl.Backends;

/// <summary>The field convolution and pooling family, over the field axis of x [batch; channels; fields; dim] (FGCNN).</summary>
public interface IFieldConvKernels
{
    /// <summary>Kernel (h, 1), 'same' padding (top (h−1)/2, bottom the rest), weight [cout; cin; h], bias [cout].</summary>
    void FieldConv(int batch, int cin, int cout, int fields, int dim, int h, BufferView x, BufferView w, BufferView bias, BufferView y);
    /// <summary>dx (+)= the input gradient (added when <paramref name="accumulateDx"/>, else written over dx); dw and
    /// dbias are added to.</summary>
    void FieldConvBackward(int batch, int cin, int cout, int fields, int dim, int h, BufferView x, BufferView w,
        BufferView dy, BufferView dx, BufferView dw, BufferView dbias, bool accumulateDx);
    /// <summary>Max over windows (p, 1) along fields → outFields rows. A ceil window that runs past the end uses the
    /// rows that exist. A larger value replaces the running maximum and an equal one does not; the first NaN wins and
    /// stays, so y is NaN when the window holds one.</summary>
    void FieldMaxPool(int batch, int channels, int fields, int dim, int p, int outFields, BufferView x, BufferView y);
    /// <summary>dx[row] += dy for each window's arg-max row, found again from x and the forward output y: the first row t
    /// of the window with x[t] = y, or, when y is NaN, the first NaN row (the row the forward pass picked). Unless
    /// <paramref name="accumulate"/>, dx is written whole: that, and zero in every other row.</summary>
    void FieldMaxPoolBackward(int batch, int channels, int fields, int dim, int p, int outFields, BufferView x, BufferView y,
        BufferView dy, BufferView dx, bool accumulate);
}
