// One work-item: the mean over n rows, compensated (Kahan) so a batch of thousands keeps float accuracy.
kernel void bce_with_logits(const int n, FB(z), FB(y), FB(loss))
{
    AT(z); AT(y); AT(loss);
    float s = 0.0f, c = 0.0f;
    for (int i = 0; i < n; i++)
    {
        float zi = z[i];
        // softplus(z) − y·z written so that neither exp nor log can overflow.
        float t = fmax(zi, 0.0f) - y[i] * zi + log1p(exp(-fabs(zi))) - c;
        float u = s + t;
        c = (u - s) - t;
        s = u;
    }
    loss[0] = n > 0 ? s / n : 0.0f;
}

kernel void bce_with_logits_backward(const int n, FB(z), FB(y), FB(dloss), FB(dz))
{
    AT(z); AT(y); AT(dloss); AT(dz);
    int i = GID;
    float zi = z[i];
    float p = zi >= 0.0f ? 1.0f / (1.0f + exp(-zi)) : exp(zi) / (1.0f + exp(zi));
    dz[i] += dloss[0] / n * (p - y[i]);
}

kernel void mse(const int n, FB(p), FB(t), FB(loss))
{
    AT(p); AT(t); AT(loss);
    float s = 0.0f, c = 0.0f;
    for (int i = 0; i < n; i++)
    {
        float d = p[i] - t[i];
        float v = d * d - c;
        float u = s + v;
        c = (u - s) - v;
        s = u;
    }
    loss[0] = n > 0 ? s / n : 0.0f;
}

kernel void mse_backward(const int n, FB(p), FB(t), FB(dloss), FB(dp))
{
    AT(p); AT(t); AT(dloss); AT(dp);
    int i = GID;
    dp[i] += 2.0f * dloss[0] / n * (p[i] - t[i]);
}
