using CtrDsl.Backends;

namespace CtrDsl.OpenCl;

public sealed partial class OpenClBackend
{
    public void FieldConv(int batch, int cin, int cout, int fields, int dim, int h, BufferView x, BufferView w, BufferView bias, BufferView y) =>
        K("field_conv").Int(cin).Int(cout).Int(fields).Int(dim).Int(h).Buf(x).Buf(w).Buf(bias).Buf(y).Run((long)batch * cout * fields * dim);

    public void FieldConvBackward(int batch, int cin, int cout, int fields, int dim, int h, BufferView x, BufferView w,
        BufferView dy, BufferView dx, BufferView dw, BufferView dbias, bool accumulateDx)
    {
        if (!dx.IsEmpty && !accumulateDx) Fill(dx, 0f);
        if (!dx.IsEmpty) K("field_conv_backward_x").Int(cin).Int(cout).Int(fields).Int(dim).Int(h).Buf(w).Buf(dy).Buf(dx).Run((long)batch * cin * fields * dim);
        if (!dw.IsEmpty) K("field_conv_backward_w").Int(batch).Int(cin).Int(cout).Int(fields).Int(dim).Int(h).Buf(x).Buf(dy).Buf(dw).Run((long)cout * cin * h);
        if (!dbias.IsEmpty) K("field_conv_backward_bias").Int(batch).Int(cout).Int(fields * dim).Buf(dy).Buf(dbias).Run(cout);
    }

    public void FieldMaxPool(int batch, int channels, int fields, int dim, int p, int outFields, BufferView x, BufferView y) =>
        K("field_max_pool").Int(fields).Int(dim).Int(p).Int(outFields).Buf(x).Buf(y).Run((long)batch * channels * outFields * dim);

    public void FieldMaxPoolBackward(int batch, int channels, int fields, int dim, int p, int outFields, BufferView x, BufferView y,
        BufferView dy, BufferView dx, bool accumulate)
    {
        if (dx.IsEmpty) return;
        if (!accumulate) Fill(dx, 0f);
        K("field_max_pool_backward").Int(fields).Int(dim).Int(p).Int(outFields).Buf(x).Buf(y).Buf(dy).Buf(dx).Run((long)batch * channels * outFields * dim);
    }
}
