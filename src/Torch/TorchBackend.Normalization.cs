using CtrDsl.Backends;
using TorchSharp;
using static TorchSharp.torch;

namespace CtrDsl.Torch;

public sealed partial class TorchBackend
{
    public void Softmax(int rows, int cols, BufferView x, BufferView y)
    {
        if ((long)rows * cols == 0) return;
        using var scope = NewDisposeScope();
        T(y, rows, cols).copy_(T(x, rows, cols).softmax(1));
    }

    // dx += y ⊙ (dy − ⟨y, dy⟩), per row.
    public void SoftmaxBackward(int rows, int cols, BufferView y, BufferView dy, BufferView dx)
    {
        if (dx.IsEmpty || (long)rows * cols == 0) return;
        using var scope = NewDisposeScope();
        var (ys, g) = (T(y, rows, cols), T(dy, rows, cols));
        T(dx, rows, cols).add_(ys.mul(g.sub(ys.mul(g).sum(1, keepdim: true))));
    }

    public void LayerNorm(int rows, int cols, float eps, BufferView x, BufferView gamma, BufferView beta, BufferView y, BufferView mean, BufferView rstd)
    {
        if ((long)rows * cols == 0) return;
        using var scope = NewDisposeScope();
        var xs = T(x, rows, cols);
        var mu = xs.mean([1], keepdim: true);
        var d = xs.sub(mu);
        var rs = d.square().mean([1], keepdim: true).add(eps).rsqrt();
        T(mean, rows, 1).copy_(mu);
        T(rstd, rows, 1).copy_(rs);
        T(y, rows, cols).copy_(d.mul(rs).mul(T(gamma, cols)).add(T(beta, cols)));
    }

    // With x̂ = (x−μ)·rstd and g = dy·γ: dx = rstd·(g − mean(g) − x̂·mean(g·x̂)); dγ = Σ_rows dy·x̂, dβ = Σ_rows dy.
    public void LayerNormBackward(int rows, int cols, BufferView x, BufferView gamma, BufferView mean, BufferView rstd,
        BufferView dy, BufferView dx, BufferView dgamma, BufferView dbeta)
    {
        if ((long)rows * cols == 0) return;
        using var scope = NewDisposeScope();
        var rs = T(rstd, rows, 1);
        var xh = T(x, rows, cols).sub(T(mean, rows, 1)).mul(rs);
        var dys = T(dy, rows, cols);
        if (!dx.IsEmpty)
        {
            var g = dys.mul(T(gamma, cols));
            T(dx, rows, cols).add_(g.sub(g.mean([1], keepdim: true)).sub(xh.mul(g.mul(xh).mean([1], keepdim: true))).mul(rs));
        }
        if (!dgamma.IsEmpty) T(dgamma, cols).add_(dys.mul(xh).sum([0]));
        if (!dbeta.IsEmpty) T(dbeta, cols).add_(dys.sum([0]));
    }

    // Training: batch statistics (saved) and running statistics moved by momentum with the unbiased variance (PyTorch);
    // eval: the running statistics.
    public void BatchNorm(int rows, int cols, float eps, float momentum, bool training, BufferView x, BufferView gamma, BufferView beta,
        BufferView y, BufferView mean, BufferView rstd, BufferView runningMean, BufferView runningVar)
    {
        if (cols == 0) return;
        using var scope = NewDisposeScope();
        var (rm, rv) = (T(runningMean, cols), T(runningVar, cols));
        Tensor mu, rs;
        if (training)
        {
            if (rows == 0) { mu = zeros([cols], ScalarType.Float32, TorchDevice); rs = full([cols], 1f / MathF.Sqrt(eps), ScalarType.Float32, TorchDevice); }
            else
            {
                // The statistics in float64, as the CPU backend takes them: with a few rows the float32 sums differ
                // enough to move the backward's cancelling terms by 1e-4.
                var xs = T(x, rows, cols).to(ScalarType.Float64);
                var m = xs.mean([0]);
                var v = xs.sub(m).square().sum([0]);
                var biased = v.div(rows);
                mu = m.to(ScalarType.Float32);
                rs = biased.add(eps).rsqrt().to(ScalarType.Float32);
                rm.mul_(1f - momentum).add_(mu, momentum);
                rv.mul_(1f - momentum).add_((rows > 1 ? v.div(rows - 1) : biased).to(ScalarType.Float32), momentum);
            }
        }
        else
        {
            mu = rm.clone();
            rs = rv.add(eps).rsqrt();
        }
        T(mean, cols).copy_(mu);
        T(rstd, cols).copy_(rs);
        if (rows > 0) T(y, rows, cols).copy_(T(x, rows, cols).sub(mu).mul(rs).mul(T(gamma, cols)).add(T(beta, cols)));
    }

    // Training-mode rule: dx = γ·rstd/n·(n·dy − Σdy − x̂·Σ(dy·x̂)); dγ = Σ dy·x̂, dβ = Σ dy.
    public void BatchNormBackward(int rows, int cols, BufferView x, BufferView gamma, BufferView mean, BufferView rstd,
        BufferView dy, BufferView dx, BufferView dgamma, BufferView dbeta)
    {
        if ((long)rows * cols == 0) return;
        using var scope = NewDisposeScope();
        var rs = T(rstd, cols);
        var xh = T(x, rows, cols).sub(T(mean, cols)).mul(rs);
        var g = T(dy, rows, cols);
        // Sums in float64, rounded once, as the CPU backend takes them.
        var sdy = g.to(ScalarType.Float64).sum([0]).to(ScalarType.Float32);
        var sdyx = g.mul(xh).to(ScalarType.Float64).sum([0]).to(ScalarType.Float32);
        if (!dgamma.IsEmpty) T(dgamma, cols).add_(sdyx);
        if (!dbeta.IsEmpty) T(dbeta, cols).add_(sdy);
        if (!dx.IsEmpty)
            T(dx, rows, cols).add_(g.mul(rows).sub(sdy).sub(xh.mul(sdyx)).mul(T(gamma, cols).mul(rs).div(rows)));
    }
}
