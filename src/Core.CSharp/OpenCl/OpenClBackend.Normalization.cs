using CtrDsl.Backends;

namespace CtrDsl.OpenCl;

public sealed partial class OpenClBackend
{
    public void Softmax(int rows, int cols, BufferView x, BufferView y) => K("softmax").Int(cols).Buf(x).Buf(y).Run(rows);

    public void SoftmaxBackward(int rows, int cols, BufferView y, BufferView dy, BufferView dx)
    {
        if (dx.IsEmpty) return;
        K("softmax_backward").Int(cols).Buf(y).Buf(dy).Buf(dx).Run(rows);
    }

    public void LayerNorm(int rows, int cols, float eps, BufferView x, BufferView gamma, BufferView beta, BufferView y, BufferView mean, BufferView rstd) =>
        K("layer_norm").Int(cols).Float(eps).Buf(x).Buf(gamma).Buf(beta).Buf(y).Buf(mean).Buf(rstd).Run(rows);

    public void LayerNormBackward(int rows, int cols, BufferView x, BufferView gamma, BufferView mean, BufferView rstd,
        BufferView dy, BufferView dx, BufferView dgamma, BufferView dbeta)
    {
        if (!dx.IsEmpty) K("layer_norm_backward_x").Int(cols).Buf(x).Buf(gamma).Buf(mean).Buf(rstd).Buf(dy).Buf(dx).Run(rows);
        if (!dgamma.IsEmpty || !dbeta.IsEmpty)
            K("layer_norm_backward_params").Int(rows).Int(cols).Buf(x).Buf(mean).Buf(rstd).Buf(dy).Buf(dgamma).Buf(dbeta)
                .Int(dgamma.IsEmpty ? 0 : 1).Int(dbeta.IsEmpty ? 0 : 1).Run(cols);
    }

    public void BatchNorm(int rows, int cols, float eps, float momentum, bool training, BufferView x, BufferView gamma, BufferView beta,
        BufferView y, BufferView mean, BufferView rstd, BufferView runningMean, BufferView runningVar) =>
        K("batch_norm").Int(rows).Int(cols).Float(eps).Float(momentum).Int(training ? 1 : 0)
            .Buf(x).Buf(gamma).Buf(beta).Buf(y).Buf(mean).Buf(rstd).Buf(runningMean).Buf(runningVar).Run(cols);

    public void BatchNormBackward(int rows, int cols, BufferView x, BufferView gamma, BufferView mean, BufferView rstd,
        BufferView dy, BufferView dx, BufferView dgamma, BufferView dbeta) =>
        K("batch_norm_backward").Int(rows).Int(cols).Buf(x).Buf(gamma).Buf(mean).Buf(rstd).Buf(dy).Buf(dx).Buf(dgamma).Buf(dbeta)
            .Int(dx.IsEmpty ? 0 : 1).Int(dgamma.IsEmpty ? 0 : 1).Int(dbeta.IsEmpty ? 0 : 1).Run(cols);
}
