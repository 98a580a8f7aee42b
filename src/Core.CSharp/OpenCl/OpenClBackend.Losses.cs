using CtrDsl.Backends;

namespace CtrDsl.OpenCl;

public sealed partial class OpenClBackend
{
    public void BceWithLogits(int n, BufferView logits, BufferView labels, BufferView loss) =>
        K("bce_with_logits").Int(n).Buf(logits).Buf(labels).Buf(loss).Run(1);

    public void BceWithLogitsBackward(int n, BufferView logits, BufferView labels, BufferView dloss, BufferView dlogits)
    {
        if (dlogits.IsEmpty || n == 0) return;
        K("bce_with_logits_backward").Int(n).Buf(logits).Buf(labels).Buf(dloss).Buf(dlogits).Run(n);
    }

    public void MaskedBceWithLogits(int n, float label, BufferView logits, BufferView mask, BufferView loss) =>
        throw NoKernel("masked_bce_with_logits");

    public void MaskedBceWithLogitsBackward(int n, float label, BufferView logits, BufferView mask, BufferView dloss,
        BufferView dlogits) => throw NoKernel("masked_bce_with_logits");

    public void Mse(int n, BufferView predictions, BufferView targets, BufferView loss) =>
        K("mse").Int(n).Buf(predictions).Buf(targets).Buf(loss).Run(1);

    public void MseBackward(int n, BufferView predictions, BufferView targets, BufferView dloss, BufferView dpredictions)
    {
        if (dpredictions.IsEmpty || n == 0) return;
        K("mse_backward").Int(n).Buf(predictions).Buf(targets).Buf(dloss).Buf(dpredictions).Run(n);
    }
}
