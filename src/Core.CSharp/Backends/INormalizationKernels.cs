namespace CtrDsl.Backends;

/// <summary>The normalisation family, per row or per column of [rows; cols]: softmax, layer norm and batch norm.</summary>
public interface INormalizationKernels
{
    void Softmax(int rows, int cols, BufferView x, BufferView y);
    void SoftmaxBackward(int rows, int cols, BufferView y, BufferView dy, BufferView dx);
    /// <summary>Per row: y = (x − mean)·rstd·gamma + beta; mean and rstd saved per row.</summary>
    void LayerNorm(int rows, int cols, float eps, BufferView x, BufferView gamma, BufferView beta, BufferView y, BufferView mean, BufferView rstd);
    void LayerNormBackward(int rows, int cols, BufferView x, BufferView gamma, BufferView mean, BufferView rstd,
        BufferView dy, BufferView dx, BufferView dgamma, BufferView dbeta);
    /// <summary>Per column over the rows (the batch). Training: batch statistics, saved, and the running
    /// statistics move by momentum (PyTorch convention, unbiased running variance). Eval: running statistics.</summary>
    void BatchNorm(int rows, int cols, float eps, float momentum, bool training, BufferView x, BufferView gamma, BufferView beta,
        BufferView y, BufferView mean, BufferView rstd, BufferView runningMean, BufferView runningVar);
    void BatchNormBackward(int rows, int cols, BufferView x, BufferView gamma, BufferView mean, BufferView rstd,
        BufferView dy, BufferView dx, BufferView dgamma, BufferView dbeta);
}
