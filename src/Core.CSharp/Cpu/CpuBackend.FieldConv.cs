using System.Numerics.Tensors;
using CtrDsl.Backends;

namespace CtrDsl.Cpu;

public sealed partial class CpuBackend
{
    // A (h, 1) kernel moves along fields only, so each tap is one axpy over a contiguous [rows·dim] run:
    // y[b,o, f0..f1) += w[o,c,t]·x[b,c, f0+t−top..f1+t−top), no im2col needed.
    private static (int dstStart, int srcStart, int rows) Tap(int t, int top, int fields)
    {
        int shift = t - top;                       // source row = f + shift
        int f0 = Math.Max(0, -shift), f1 = Math.Min(fields, fields - shift);
        return (f0, f0 + shift, Math.Max(0, f1 - f0));
    }

    public void FieldConv(int batch, int cin, int cout, int fields, int dim, int h, BufferView x, BufferView w, BufferView bias, BufferView y)
    {
        var xs = F(x); var ws = F(w); var bs = F(bias); var ys = F(y);
        int plane = fields * dim, top = (h - 1) / 2;
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < cout; o++)
            {
                var yo = ys.Slice((b * cout + o) * plane, plane);
                yo.Fill(bs[o]);
                for (int c = 0; c < cin; c++)
                {
                    var xc = xs.Slice((b * cin + c) * plane, plane);
                    for (int t = 0; t < h; t++)
                    {
                        var (d, s, rows) = Tap(t, top, fields);
                        if (rows == 0) continue;
                        var dst = yo.Slice(d * dim, rows * dim);
                        TensorPrimitives.MultiplyAdd(xc.Slice(s * dim, rows * dim), ws[(o * cin + c) * h + t], dst, dst);
                    }
                }
            }
    }

    public void FieldConvBackward(int batch, int cin, int cout, int fields, int dim, int h, BufferView x, BufferView w,
        BufferView dy, BufferView dx, BufferView dw, BufferView dbias)
    {
        var xs = F(x); var ws = F(w); var dys = F(dy); var dxs = F(dx); var dws = F(dw); var dbs = F(dbias);
        int plane = fields * dim, top = (h - 1) / 2;
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < cout; o++)
            {
                var g = dys.Slice((b * cout + o) * plane, plane);
                if (!dbias.IsEmpty) dbs[o] += TensorPrimitives.Sum(g);
                for (int c = 0; c < cin; c++)
                {
                    int xOff = (b * cin + c) * plane;
                    for (int t = 0; t < h; t++)
                    {
                        var (d, s, rows) = Tap(t, top, fields);
                        if (rows == 0) continue;
                        var gr = g.Slice(d * dim, rows * dim);
                        if (!dw.IsEmpty) dws[(o * cin + c) * h + t] += TensorPrimitives.Dot(gr, xs.Slice(xOff + s * dim, rows * dim));
                        if (!dx.IsEmpty)
                        {
                            var dst = dxs.Slice(xOff + s * dim, rows * dim);
                            TensorPrimitives.MultiplyAdd(gr, ws[(o * cin + c) * h + t], dst, dst);
                        }
                    }
                }
            }
    }

    public void FieldMaxPool(int batch, int channels, int fields, int dim, int p, int outFields, BufferView x, BufferView y, BufferView argmax)
    {
        var xs = F(x); var ys = F(y); var am = I(argmax);
        for (int bc = 0; bc < batch * channels; bc++)
        {
            var xp = xs.Slice(bc * fields * dim, fields * dim);
            for (int of = 0; of < outFields; of++)
            {
                int f0 = of * p, f1 = Math.Min(fields, f0 + p);
                int outBase = (bc * outFields + of) * dim;
                for (int k = 0; k < dim; k++)
                {
                    int best = f0;
                    float v = xp[f0 * dim + k];
                    for (int f = f0 + 1; f < f1; f++)
                    {
                        float c = xp[f * dim + k];
                        if (c > v || float.IsNaN(c)) { v = c; best = f; }
                    }
                    ys[outBase + k] = v;
                    am[outBase + k] = best;
                }
            }
        }
    }

    public void FieldMaxPoolBackward(int batch, int channels, int outFields, int dim, BufferView argmax, BufferView dy, BufferView dx, int fields)
    {
        if (dx.IsEmpty) return;
        var am = I(argmax); var dys = F(dy); var dxs = F(dx);
        for (int bc = 0; bc < batch * channels; bc++)
            for (int of = 0; of < outFields; of++)
            {
                int outBase = (bc * outFields + of) * dim;
                for (int k = 0; k < dim; k++)
                    dxs[(bc * fields + am[outBase + k]) * dim + k] += dys[outBase + k];
            }
    }
}
