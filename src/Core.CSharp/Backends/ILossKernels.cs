namespace CtrDsl.Backends;

/// <summary>The loss family: each loss is the mean over the n rows present, written to loss[0].</summary>
public interface ILossKernels
{
    /// <summary>loss[0] = mean over n of softplus(z) − y·z, computed stably as max(z,0) − y·z + log1p(exp(−|z|)).</summary>
    void BceWithLogits(int n, BufferView logits, BufferView labels, BufferView loss);
    /// <summary>dz += dloss·(σ(z) − y)/n.</summary>
    void BceWithLogitsBackward(int n, BufferView logits, BufferView labels, BufferView dloss, BufferView dlogits);
    /// <summary>loss[0] = Σ m·bce(z, label) / max(1, Σ m) over n values (the mean over the valid ones for a 0/1 mask).</summary>
    void MaskedBceWithLogits(int n, float label, BufferView logits, BufferView mask, BufferView loss);
    /// <summary>dz += dloss·m·(σ(z) − label)/max(1, Σ m).</summary>
    void MaskedBceWithLogitsBackward(int n, float label, BufferView logits, BufferView mask, BufferView dloss, BufferView dlogits);
    void Mse(int n, BufferView predictions, BufferView targets, BufferView loss);
    void MseBackward(int n, BufferView predictions, BufferView targets, BufferView dloss, BufferView dpredictions);
}
