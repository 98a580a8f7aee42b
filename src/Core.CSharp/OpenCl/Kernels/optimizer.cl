// Optimizer steps on resident parameters: the rules of Optim/*Kernel.cs, operation for operation. Contraction into
// fused multiply-adds is off, as the CPU kernels promise it is there, so both backends round alike.
// Dense kernels take one item per weight (index i); the rows kernels one item per (slot s, k), moving weight
// rows[s]·dim + k with gradient grads[s·dim + k]. l2 adds l2·w to the gradient first (Regularization.AddGradient).
#pragma OPENCL FP_CONTRACT OFF

inline void adam_one(global float* w, float g, global float* m, global float* v,
    float beta1, float beta2, float eps, float stepSize, float sqrtBc2, float decay)
{
    float wi = *w * decay;
    float mi = beta1 * *m + (1.0f - beta1) * g;
    float vi = beta2 * *v + (1.0f - beta2) * (g * g);
    *m = mi;
    *v = vi;
    *w = wi - stepSize * (mi / (sqrt(vi) / sqrtBc2 + eps));
}

kernel void adam(FB(w), FB(g), FB(m), FB(v), const float beta1, const float beta2, const float eps,
    const float stepSize, const float sqrtBc2, const float decay, const float l2)
{
    AT(w); AT(g); AT(m); AT(v);
    int i = GID;
    float gi = l2 != 0.0f ? w[i] * l2 + g[i] : g[i];
    adam_one(w + i, gi, m + i, v + i, beta1, beta2, eps, stepSize, sqrtBc2, decay);
}

kernel void adam_rows(const int dim, IB(rows), FB(grads), FB(w), FB(m), FB(v), const float beta1, const float beta2,
    const float eps, const float stepSize, const float sqrtBc2, const float decay, const float l2)
{
    AT(rows); AT(grads); AT(w); AT(m); AT(v);
    int i = GID, s = i / dim, k = i % dim, j = rows[s] * dim + k;
    float gi = l2 != 0.0f ? w[j] * l2 + grads[i] : grads[i];
    adam_one(w + j, gi, m + j, v + j, beta1, beta2, eps, stepSize, sqrtBc2, decay);
}

inline void adagrad_one(global float* w, float g, global float* s, float lr, float eps)
{
    float si = *s + g * g;
    *s = si;
    *w = *w - lr * (g / (sqrt(si) + eps));
}

kernel void adagrad(FB(w), FB(g), FB(sum), const float lr, const float eps, const float l2)
{
    AT(w); AT(g); AT(sum);
    int i = GID;
    float gi = l2 != 0.0f ? w[i] * l2 + g[i] : g[i];
    adagrad_one(w + i, gi, sum + i, lr, eps);
}

kernel void adagrad_rows(const int dim, IB(rows), FB(grads), FB(w), FB(sum), const float lr, const float eps, const float l2)
{
    AT(rows); AT(grads); AT(w); AT(sum);
    int i = GID, s = i / dim, k = i % dim, j = rows[s] * dim + k;
    float gi = l2 != 0.0f ? w[j] * l2 + grads[i] : grads[i];
    adagrad_one(w + j, gi, sum + j, lr, eps);
}

// b ← μ·b + g; w ← w − lr·(g + μ·b) (Nesterov) or w − lr·b; without a buffer (hasMomentum = 0) w ← g·(−lr) + w.
inline void sgd_one(global float* w, float g, global float* b, int hasMomentum, float lr, float mu, int nesterov)
{
    if (!hasMomentum) { *w = g * -lr + *w; return; }
    float bi = mu * *b + g;
    *b = bi;
    *w = *w - lr * (nesterov ? g + mu * bi : bi);
}

kernel void sgd(FB(w), FB(g), FB(b), const int hasMomentum, const float lr, const float mu, const int nesterov, const float l2)
{
    AT(w); AT(g); AT(b);
    int i = GID;
    float gi = l2 != 0.0f ? w[i] * l2 + g[i] : g[i];
    sgd_one(w + i, gi, b + (hasMomentum ? i : 0), hasMomentum, lr, mu, nesterov);
}

kernel void sgd_rows(const int dim, IB(rows), FB(grads), FB(w), FB(b), const int hasMomentum, const float lr, const float mu,
    const int nesterov, const float l2)
{
    AT(rows); AT(grads); AT(w); AT(b);
    int i = GID, s = i / dim, k = i % dim, j = rows[s] * dim + k;
    float gi = l2 != 0.0f ? w[j] * l2 + grads[i] : grads[i];
    sgd_one(w + j, gi, b + (hasMomentum ? j : 0), hasMomentum, lr, mu, nesterov);
}
