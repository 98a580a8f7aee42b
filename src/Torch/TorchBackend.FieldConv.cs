using CtrDsl.Backends;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace CtrDsl.Torch;

// The (h, 1) convolution over fields is conv2d on x padded along fields (top (h−1)/2, bottom the rest, which conv2d's
// symmetric padding cannot say for an even h). Its backward is written out: dx sums the unfolded windows of dy (padded
// the other way round) against w flipped along its taps, dw sums dy against the unfolded windows of the padded x.
// Max-pool is max_pool2d with a (p, 1) window; its backward finds each window's arg-max again from x and y by the contract's rule (the first row equal to
// y, or the first NaN when y is NaN), one tap at a time, instead of max_pool2d's indices, which pick the last NaN.
public sealed partial class TorchBackend
{
    public void FieldConv(int batch, int cin, int cout, int fields, int dim, int h, BufferView x, BufferView w, BufferView bias, BufferView y)
    {
        if ((long)batch * cout * fields * dim == 0) return;
        using var scope = NewDisposeScope();
        var conv = F.conv2d(Padded(x, batch, cin, fields, dim, h), T(w, cout, cin, h, 1), bias.IsEmpty ? null : T(bias, cout));
        T(y, batch, cout, fields, dim).copy_(conv);
    }

    public void FieldConvBackward(int batch, int cin, int cout, int fields, int dim, int h, BufferView x, BufferView w,
        BufferView dy, BufferView dx, BufferView dw, BufferView dbias, bool accumulateDx)
    {
        if (!dx.IsEmpty && !accumulateDx) T(dx).zero_();
        if ((long)batch * cout * fields * dim == 0) return;
        using var scope = NewDisposeScope();
        var g = T(dy, batch, cout, fields, dim);
        if (!dbias.IsEmpty) T(dbias, cout).add_(g.sum([0, 2, 3]));
        if (!dw.IsEmpty)
        {
            var windows = Padded(x, batch, cin, fields, dim, h).unfold(2, h, 1); // [batch; cin; fields; dim; h]
            T(dw, cout, cin, h).add_(einsum("bofd,bcfdt->oct", g, windows));
        }
        if (!dx.IsEmpty && cin > 0)
        {
            // dx[b, c, q, d] = Σ_o Σ_t w[o, c, t]·dy[b, o, q + top − t, d]: dy padded the other way round, its windows
            // against w flipped along the taps. conv_transpose2d gave wrong values on the Zen 5 EPYC (libtorch 2.10 CPU:
            // FieldConv_MatchesCpu, d/dx about half the reference's), and so did both FGCNN training tests.
            int top = (h - 1) / 2;
            var windows = F.pad(g, [0, 0, h - 1 - top, top]).unfold(2, h, 1); // [batch; cout; fields; dim; h]
            T(dx, batch, cin, fields, dim).add_(einsum("bofds,ocs->bcfd", windows, T(w, cout, cin, h).flip(2)));
        }
    }

    private static Tensor Padded(BufferView x, int batch, int cin, int fields, int dim, int h)
    {
        int top = (h - 1) / 2;
        return F.pad(T(x, batch, cin, fields, dim), [0, 0, top, h - 1 - top]);
    }

    public void FieldMaxPool(int batch, int channels, int fields, int dim, int p, int outFields, BufferView x, BufferView y)
    {
        if ((long)batch * channels * outFields * dim == 0) return;
        using var scope = NewDisposeScope();
        bool ceil = outFields * p > fields;
        var pooled = F.max_pool2d(T(x, batch, channels, fields, dim), [p, 1], [p, 1], ceil_mode: ceil);
        if (pooled.shape[2] != outFields)
            throw new ArgumentException($"field_max_pool: max_pool2d gave {pooled.shape[2]} rows for {fields} fields and window {p}, expected {outFields}");
        T(y, batch, channels, outFields, dim).copy_(pooled);
    }

    public void FieldMaxPoolBackward(int batch, int channels, int fields, int dim, int p, int outFields, BufferView x, BufferView y,
        BufferView dy, BufferView dx, bool accumulate)
    {
        if (!dx.IsEmpty && !accumulate) T(dx).zero_();
        if (dx.IsEmpty || (long)batch * channels * outFields * dim == 0) return;
        using var scope = NewDisposeScope();
        long rows = (long)outFields * p;
        // Rows past the end are −∞: never the first match, since every window holds a real row at least as large.
        var xs = T(x, batch, channels, fields, dim);
        var xp = rows > fields ? F.pad(xs, [0, 0, 0, rows - fields], value: double.NegativeInfinity) : xs.narrow(2, 0, rows);
        var windows = xp.view(batch, channels, outFields, p, dim);
        var ys = T(y, batch, channels, outFields, dim);
        var g = T(dy, batch, channels, outFields, dim);
        var yNaN = ys.isnan();
        var found = zeros_like(ys, ScalarType.Bool);
        var grads = new Tensor[p];
        for (int t = 0; t < p; t++)
        {
            var row = windows.select(3, t);
            var hit = row.eq(ys).logical_or(yNaN.logical_and(row.isnan())).logical_and(found.logical_not());
            found = found.logical_or(hit);
            grads[t] = g.mul(hit);
        }
        var dxs = stack(grads, 3).view(batch, channels, rows, dim);
        T(dx, batch, channels, fields, dim).narrow(2, 0, Math.Min(rows, fields)).add_(dxs.narrow(2, 0, Math.Min(rows, fields)));
    }
}
