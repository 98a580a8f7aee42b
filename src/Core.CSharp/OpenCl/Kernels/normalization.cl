// One item per row; subtracting the row max keeps exp from overflowing.
kernel void softmax(const int cols, FB(x), FB(y))
{
    AT(x); AT(y);
    int r = GID;
    global float* xr = x + r * cols;
    global float* yr = y + r * cols;
    float m = -INFINITY;
    for (int j = 0; j < cols; j++) m = fmax(m, xr[j]);
    float s = 0.0f;
    for (int j = 0; j < cols; j++) { float e = exp(xr[j] - m); yr[j] = e; s += e; }
    for (int j = 0; j < cols; j++) yr[j] /= s;
}

// dx = y ⊙ (dy − ⟨y, dy⟩), per row.
kernel void softmax_backward(const int cols, FB(y), FB(dy), FB(dx))
{
    AT(y); AT(dy); AT(dx);
    int r = GID;
    float dot = 0.0f;
    for (int j = 0; j < cols; j++) dot += y[r * cols + j] * dy[r * cols + j];
    for (int j = 0; j < cols; j++) dx[r * cols + j] += y[r * cols + j] * (dy[r * cols + j] - dot);
}

kernel void layer_norm(const int cols, const float eps, FB(x), FB(gamma), FB(beta), FB(y), FB(mean), FB(rstd))
{
    AT(x); AT(gamma); AT(beta); AT(y); AT(mean); AT(rstd);
    int r = GID;
    global float* xr = x + r * cols;
    float s = 0.0f;
    for (int j = 0; j < cols; j++) s += xr[j];
    float mu = s / cols, v = 0.0f;
    for (int j = 0; j < cols; j++) { float d = xr[j] - mu; v += d * d; }
    float rs = 1.0f / sqrt(v / cols + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (int j = 0; j < cols; j++) y[r * cols + j] = (xr[j] - mu) * rs * gamma[j] + beta[j];
}

// With x̂ = (x−μ)·rstd and g = dy·γ: dx = rstd·(g − mean(g) − x̂·mean(g·x̂)); one item per row.
kernel void layer_norm_backward_x(const int cols, FB(x), FB(gamma), FB(mean), FB(rstd), FB(dy), FB(dx))
{
    AT(x); AT(gamma); AT(mean); AT(rstd); AT(dy); AT(dx);
    int r = GID;
    float mu = mean[r], rs = rstd[r], sg = 0.0f, sgx = 0.0f;
    for (int j = 0; j < cols; j++)
    {
        float xh = (x[r * cols + j] - mu) * rs, g = dy[r * cols + j] * gamma[j];
        sg += g;
        sgx += g * xh;
    }
    float mg = sg / cols, mgx = sgx / cols;
    for (int j = 0; j < cols; j++)
    {
        float xh = (x[r * cols + j] - mu) * rs;
        dx[r * cols + j] += rs * (dy[r * cols + j] * gamma[j] - mg - xh * mgx);
    }
}

// dγ and dβ, one item per column summing over the rows.
kernel void layer_norm_backward_params(const int rows, const int cols, FB(x), FB(mean), FB(rstd), FB(dy),
    FB(dgamma), FB(dbeta), const int wantGamma, const int wantBeta)
{
    AT(x); AT(mean); AT(rstd); AT(dy); AT(dgamma); AT(dbeta);
    int j = GID;
    float sg = 0.0f, sb = 0.0f;
    for (int r = 0; r < rows; r++)
    {
        float g = dy[r * cols + j];
        sg += g * (x[r * cols + j] - mean[r]) * rstd[r];
        sb += g;
    }
    if (wantGamma) dgamma[j] += sg;
    if (wantBeta) dbeta[j] += sb;
}

// One item per column. Training: batch statistics (saved) and running statistics moved by momentum with the
// unbiased variance (PyTorch); eval: the running statistics.
kernel void batch_norm(const int rows, const int cols, const float eps, const float momentum, const int training,
    FB(x), FB(gamma), FB(beta), FB(y), FB(mean), FB(rstd), FB(runningMean), FB(runningVar))
{
    AT(x); AT(gamma); AT(beta); AT(y); AT(mean); AT(rstd); AT(runningMean); AT(runningVar);
    int j = GID;
    float mu, rs;
    if (training)
    {
        float s = 0.0f;
        for (int r = 0; r < rows; r++) s += x[r * cols + j];
        float m = rows > 0 ? s / rows : 0.0f, v = 0.0f;
        for (int r = 0; r < rows; r++) { float d = x[r * cols + j] - m; v += d * d; }
        float biased = rows > 0 ? v / rows : 0.0f;
        float unbiased = rows > 1 ? v / (rows - 1) : biased;
        mu = m;
        rs = 1.0f / sqrt(biased + eps);
        runningMean[j] = (1.0f - momentum) * runningMean[j] + momentum * mu;
        runningVar[j] = (1.0f - momentum) * runningVar[j] + momentum * unbiased;
    }
    else
    {
        mu = runningMean[j];
        rs = 1.0f / sqrt(runningVar[j] + eps);
    }
    mean[j] = mu;
    rstd[j] = rs;
    for (int r = 0; r < rows; r++) y[r * cols + j] = (x[r * cols + j] - mu) * rs * gamma[j] + beta[j];
}

// Training-mode rule, one item per column: dx = γ·rstd/n·(n·dy − Σdy − x̂·Σ(dy·x̂)).
kernel void batch_norm_backward(const int rows, const int cols, FB(x), FB(gamma), FB(mean), FB(rstd), FB(dy),
    FB(dx), FB(dgamma), FB(dbeta), const int wantX, const int wantGamma, const int wantBeta)
{
    AT(x); AT(gamma); AT(mean); AT(rstd); AT(dy); AT(dx); AT(dgamma); AT(dbeta);
    int j = GID;
    float mu = mean[j], rs = rstd[j], sdy = 0.0f, sdyx = 0.0f;
    for (int r = 0; r < rows; r++)
    {
        float d = dy[r * cols + j];
        sdy += d;
        sdyx += d * (x[r * cols + j] - mu) * rs;
    }
    if (wantGamma) dgamma[j] += sdyx;
    if (wantBeta) dbeta[j] += sdy;
    if (!wantX || rows == 0) return;
    float k = gamma[j] * rs / rows;
    for (int r = 0; r < rows; r++)
    {
        float xh = (x[r * cols + j] - mu) * rs;
        dx[r * cols + j] += k * (rows * dy[r * cols + j] - sdy - xh * sdyx);
    }
}
