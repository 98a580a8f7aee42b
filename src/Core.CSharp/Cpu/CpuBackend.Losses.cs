using CtrDsl.Backends;

namespace CtrDsl.Cpu;

public sealed unsafe partial class CpuBackend
{
    public void BceWithLogits(int n, BufferView logits, BufferView labels, BufferView loss)
    {
        var z = F(logits); var y = F(labels);
        double s = 0;
        for (int i = 0; i < n; i++)
        {
            float zi = z[i];
            // softplus(z) − y·z written so that neither exp nor log can overflow.
            s += Math.Max(zi, 0f) - y[i] * zi + Math.Log(1.0 + Math.Exp(-Math.Abs(zi)));
        }
        F(loss)[0] = n > 0 ? (float)(s / n) : 0f;
    }

    public void BceWithLogitsBackward(int n, BufferView logits, BufferView labels, BufferView dloss, BufferView dlogits)
    {
        if (dlogits.IsEmpty || n == 0) return;
        var z = F(logits); var y = F(labels); var dz = F(dlogits);
        float g = F(dloss)[0] / n;
        for (int i = 0; i < n; i++)
        {
            float zi = z[i];
            // σ(z) from the side where exp cannot overflow.
            float p = zi >= 0 ? 1f / (1f + MathF.Exp(-zi)) : MathF.Exp(zi) / (1f + MathF.Exp(zi));
            dz[i] += g * (p - y[i]);
        }
    }

    public void MaskedBceWithLogits(int n, float label, BufferView logits, BufferView mask, BufferView loss)
    {
        var z = F(logits); var m = F(mask);
        double s = 0, count = 0;
        for (int i = 0; i < n; i++)
        {
            if (m[i] == 0f) continue;
            float zi = z[i];
            s += m[i] * (Math.Max(zi, 0f) - label * zi + Math.Log(1.0 + Math.Exp(-Math.Abs(zi))));
            count += m[i];
        }
        F(loss)[0] = (float)(s / Math.Max(1.0, count));
    }

    public void MaskedBceWithLogitsBackward(int n, float label, BufferView logits, BufferView mask, BufferView dloss, BufferView dlogits)
    {
        if (dlogits.IsEmpty || n == 0) return;
        var z = F(logits); var m = F(mask); var dz = F(dlogits);
        double count = 0;
        for (int i = 0; i < n; i++) count += m[i];
        float g = (float)(F(dloss)[0] / Math.Max(1.0, count));
        for (int i = 0; i < n; i++)
        {
            if (m[i] == 0f) continue;
            float zi = z[i];
            float p = zi >= 0 ? 1f / (1f + MathF.Exp(-zi)) : MathF.Exp(zi) / (1f + MathF.Exp(zi));
            dz[i] += g * m[i] * (p - label);
        }
    }

    public void Mse(int n, BufferView predictions, BufferView targets, BufferView loss)
    {
        var p = F(predictions); var t = F(targets);
        double s = 0;
        for (int i = 0; i < n; i++) { double d = p[i] - t[i]; s += d * d; }
        F(loss)[0] = n > 0 ? (float)(s / n) : 0f;
    }

    public void MseBackward(int n, BufferView predictions, BufferView targets, BufferView dloss, BufferView dpredictions)
    {
        if (dpredictions.IsEmpty || n == 0) return;
        var p = F(predictions); var t = F(targets); var dp = F(dpredictions);
        float g = 2f * F(dloss)[0] / n;
        for (int i = 0; i < n; i++) dp[i] += g * (p[i] - t[i]);
    }
}
