using CtrDsl.Backends;
using TorchSharp;
using static TorchSharp.torch;

namespace CtrDsl.Torch;

// The mean over the rows is taken in float64, as the CPU backend sums it; the seed gradient dloss stays on the device.
public sealed partial class TorchBackend
{
    public void BceWithLogits(int n, BufferView logits, BufferView labels, BufferView loss)
    {
        using var scope = NewDisposeScope();
        if (n == 0) { T(loss, 1).zero_(); return; }
        var z = T(logits, n).to(ScalarType.Float64);
        var y = T(labels, n).to(ScalarType.Float64);
        // softplus(z) − y·z written so that neither exp nor log can overflow.
        var l = z.clamp_min(0).sub(y.mul(z)).add(z.abs().neg().exp().log1p());
        T(loss, 1).copy_(l.mean().view(1));
    }

    public void BceWithLogitsBackward(int n, BufferView logits, BufferView labels, BufferView dloss, BufferView dlogits)
    {
        if (dlogits.IsEmpty || n == 0) return;
        using var scope = NewDisposeScope();
        T(dlogits, n).add_(T(logits, n).sigmoid().sub(T(labels, n)).mul(T(dloss, 1)).div(n));
    }

    public void MaskedBceWithLogits(int n, float label, BufferView logits, BufferView mask, BufferView loss) =>
        throw NoKernel("masked_bce_with_logits");

    public void MaskedBceWithLogitsBackward(int n, float label, BufferView logits, BufferView mask, BufferView dloss,
        BufferView dlogits) => throw NoKernel("masked_bce_with_logits");

    public void Mse(int n, BufferView predictions, BufferView targets, BufferView loss)
    {
        using var scope = NewDisposeScope();
        if (n == 0) { T(loss, 1).zero_(); return; }
        var d = T(predictions, n).to(ScalarType.Float64).sub(T(targets, n).to(ScalarType.Float64));
        T(loss, 1).copy_(d.square().mean().view(1));
    }

    public void MseBackward(int n, BufferView predictions, BufferView targets, BufferView dloss, BufferView dpredictions)
    {
        if (dpredictions.IsEmpty || n == 0) return;
        using var scope = NewDisposeScope();
        T(dpredictions, n).add_(T(predictions, n).sub(T(targets, n)).mul(T(dloss, 1)).mul(2f / n));
    }
}
