using System.Numerics.Tensors;
using CtrDsl.Backends;

namespace CtrDsl.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void Softmax(int rows, int cols, BufferView x, BufferView y)
    {
        var xs = F(x);
        var ys = F(y);
        for (int r = 0; r < rows; r++)
        {
            var xr = xs.Slice(r * cols, cols);
            var yr = ys.Slice(r * cols, cols);
            // Subtracting the row max keeps exp from overflowing; the result is unchanged.
            TensorPrimitives.Subtract(xr, TensorPrimitives.Max(xr), yr);
            TensorPrimitives.Exp(yr, yr);
            TensorPrimitives.Divide(yr, TensorPrimitives.Sum(yr), yr);
        }
    }

    public void SoftmaxBackward(int rows, int cols, BufferView y, BufferView dy, BufferView dx)
    {
        if (dx.IsEmpty) return;
        var ys = F(y);
        var dys = F(dy);
        var dxs = F(dx);
        for (int r = 0; r < rows; r++)
        {
            var yr = ys.Slice(r * cols, cols);
            var gr = dys.Slice(r * cols, cols);
            var dr = dxs.Slice(r * cols, cols);
            float dot = TensorPrimitives.Dot(yr, gr);
            for (int j = 0; j < cols; j++) dr[j] += yr[j] * (gr[j] - dot);
        }
    }

    public void LayerNorm(int rows, int cols, float eps, BufferView x, BufferView gamma, BufferView beta, BufferView y,
        BufferView mean, BufferView rstd)
    {
        var xs = F(x); var g = F(gamma); var b = F(beta); var ys = F(y); var ms = F(mean); var rs = F(rstd);
        for (int r = 0; r < rows; r++)
        {
            var xr = xs.Slice(r * cols, cols);
            var yr = ys.Slice(r * cols, cols);
            float mu = TensorPrimitives.Sum(xr) / cols;
            double v = 0;
            for (int j = 0; j < cols; j++) { double d = xr[j] - mu; v += d * d; }
            float rstdv = (float)(1.0 / Math.Sqrt(v / cols + eps));
            ms[r] = mu;
            rs[r] = rstdv;
            for (int j = 0; j < cols; j++) yr[j] = (xr[j] - mu) * rstdv * g[j] + b[j];
        }
    }

    public void LayerNormBackward(int rows, int cols, BufferView x, BufferView gamma, BufferView mean, BufferView rstd,
        BufferView dy, BufferView dx, BufferView dgamma, BufferView dbeta)
    {
        var xs = F(x); var g = F(gamma); var ms = F(mean); var rs = F(rstd); var dys = F(dy);
        var dxs = F(dx); var dg = F(dgamma); var db = F(dbeta);
        for (int r = 0; r < rows; r++)
        {
            var xr = xs.Slice(r * cols, cols);
            var gr = dys.Slice(r * cols, cols);
            float mu = ms[r], rsd = rstd.IsEmpty ? 0f : rs[r];
            // With x̂ = (x−μ)·rstd and g = dy·γ: dx = rstd·(g − mean(g) − x̂·mean(g·x̂)).
            double sumG = 0, sumGx = 0;
            for (int j = 0; j < cols; j++)
            {
                float xh = (xr[j] - mu) * rsd;
                float gj = gr[j] * g[j];
                sumG += gj;
                sumGx += gj * xh;
                if (!dgamma.IsEmpty) dg[j] += gr[j] * xh;
                if (!dbeta.IsEmpty) db[j] += gr[j];
            }
            if (dx.IsEmpty) continue;
            float mg = (float)(sumG / cols), mgx = (float)(sumGx / cols);
            var dr = dxs.Slice(r * cols, cols);
            for (int j = 0; j < cols; j++)
            {
                float xh = (xr[j] - mu) * rsd;
                dr[j] += rsd * (gr[j] * g[j] - mg - xh * mgx);
            }
        }
    }

    public void BatchNorm(int rows, int cols, float eps, float momentum, bool training, BufferView x, BufferView gamma,
        BufferView beta, BufferView y, BufferView mean, BufferView rstd, BufferView runningMean, BufferView runningVar)
    {
        var xs = F(x); var g = F(gamma); var b = F(beta); var ys = F(y);
        var ms = F(mean); var rs = F(rstd); var rm = F(runningMean); var rv = F(runningVar);
        for (int j = 0; j < cols; j++)
        {
            float mu, rsd;
            if (training)
            {
                double s = 0;
                for (int r = 0; r < rows; r++) s += xs[r * cols + j];
                double m = rows > 0 ? s / rows : 0;
                double v = 0;
                for (int r = 0; r < rows; r++) { double d = xs[r * cols + j] - m; v += d * d; }
                double biased = rows > 0 ? v / rows : 0;
                double unbiased = rows > 1 ? v / (rows - 1) : biased;
                mu = (float)m;
                rsd = (float)(1.0 / Math.Sqrt(biased + eps));
                rm[j] = (1f - momentum) * rm[j] + momentum * mu;
                rv[j] = (1f - momentum) * rv[j] + momentum * (float)unbiased;
            }
            else
            {
                mu = rm[j];
                rsd = 1f / MathF.Sqrt(rv[j] + eps);
            }
            ms[j] = mu;
            rs[j] = rsd;
            for (int r = 0; r < rows; r++) ys[r * cols + j] = (xs[r * cols + j] - mu) * rsd * g[j] + b[j];
        }
    }

    public void BatchNormBackward(int rows, int cols, BufferView x, BufferView gamma, BufferView mean, BufferView rstd,
        BufferView dy, BufferView dx, BufferView dgamma, BufferView dbeta)
    {
        var xs = F(x); var g = F(gamma); var ms = F(mean); var rs = F(rstd); var dys = F(dy);
        var dxs = F(dx); var dg = F(dgamma); var db = F(dbeta);
        for (int j = 0; j < cols; j++)
        {
            float mu = ms[j], rsd = rs[j];
            double sumDy = 0, sumDyXh = 0;
            for (int r = 0; r < rows; r++)
            {
                float d = dys[r * cols + j];
                sumDy += d;
                sumDyXh += d * (xs[r * cols + j] - mu) * rsd;
            }
            if (!dgamma.IsEmpty) dg[j] += (float)sumDyXh;
            if (!dbeta.IsEmpty) db[j] += (float)sumDy;
            if (dx.IsEmpty || rows == 0) continue;
            // Training-mode rule: dx = γ·rstd/n·(n·dy − Σdy − x̂·Σ(dy·x̂)).
            float k = g[j] * rsd / rows, mDy = (float)sumDy, mDyXh = (float)sumDyXh;
            for (int r = 0; r < rows; r++)
            {
                float xh = (xs[r * cols + j] - mu) * rsd;
                dxs[r * cols + j] += k * (rows * dys[r * cols + j] - mDy - xh * mDyXh);
            }
        }
    }
}
