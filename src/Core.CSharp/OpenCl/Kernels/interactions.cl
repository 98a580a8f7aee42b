// Field interactions on x [batch; fields; dim]; P = fields·(fields−1)/2 pairs.

// y[b, k] = ½[(Σ_f x)² − Σ_f x²]; one item per (b, k).
kernel void bi_interaction(const int fields, const int dim, FB(x), FB(y))
{
    AT(x); AT(y);
    int i = GID, b = i / dim, k = i % dim;
    float s = 0.0f, sq = 0.0f;
    for (int f = 0; f < fields; f++) { float v = x[(b * fields + f) * dim + k]; s += v; sq += v * v; }
    y[i] = 0.5f * (s * s - sq);
}

// d/dx_f,k = dy_k·(Σ_g x_g,k − x_f,k); one item per element of x.
kernel void bi_interaction_backward(const int fields, const int dim, FB(x), FB(dy), FB(dx))
{
    AT(x); AT(dy); AT(dx);
    int i = GID, k = i % dim, b = i / (fields * dim);
    float s = 0.0f;
    for (int f = 0; f < fields; f++) s += x[(b * fields + f) * dim + k];
    dx[i] += dy[b * dim + k] * (s - x[i]);
}

kernel void pairwise_inner(const int fields, const int dim, FB(x), FB(y))
{
    AT(x); AT(y);
    int pairs = fields * (fields - 1) / 2, i = GID, b = i / pairs;
    int2 ij = pair_of(i % pairs, fields);
    global float* xi = x + (b * fields + ij.x) * dim;
    global float* xj = x + (b * fields + ij.y) * dim;
    float s = 0.0f;
    for (int k = 0; k < dim; k++) s += xi[k] * xj[k];
    y[i] = s;
}

// dx_f,k += Σ_{g≠f} dy_(f,g)·x_g,k; one item per element of x.
kernel void pairwise_inner_backward(const int fields, const int dim, FB(x), FB(dy), FB(dx))
{
    AT(x); AT(dy); AT(dx);
    int pairs = fields * (fields - 1) / 2, i = GID, k = i % dim, f = (i / dim) % fields, b = i / (fields * dim);
    float s = 0.0f;
    for (int g = 0; g < fields; g++)
    {
        if (g == f) continue;
        int p = f < g ? pair_index(f, g, fields) : pair_index(g, f, fields);
        s += dy[b * pairs + p] * x[(b * fields + g) * dim + k];
    }
    dx[i] += s;
}

// y[b, p] = x_iᵀ (U_p + U_pᵀ) x_j; one item per (b, p), O(dim²) each.
kernel void fefm(const int fields, const int dim, FB(x), FB(u), FB(y))
{
    AT(x); AT(u); AT(y);
    int pairs = fields * (fields - 1) / 2, i = GID, b = i / pairs, p = i % pairs;
    int2 ij = pair_of(p, fields);
    global float* xi = x + (b * fields + ij.x) * dim;
    global float* xj = x + (b * fields + ij.y) * dim;
    global float* up = u + p * dim * dim;
    float s = 0.0f;
    for (int a = 0; a < dim; a++)
    {
        float t = 0.0f;
        for (int c = 0; c < dim; c++) t += (up[a * dim + c] + up[c * dim + a]) * xj[c];
        s += xi[a] * t;
    }
    y[i] = s;
}

// W_p = U_p + U_pᵀ is symmetric, so either field of a pair gets dy_p·W_p·(the other field):
// dx_f,a += Σ_{g≠f} dy_(f,g)·Σ_c W_(f,g)[a, c]·x_g,c; one item per element of x.
kernel void fefm_backward_x(const int fields, const int dim, FB(x), FB(u), FB(dy), FB(dx))
{
    AT(x); AT(u); AT(dy); AT(dx);
    int pairs = fields * (fields - 1) / 2, i = GID, a = i % dim, f = (i / dim) % fields, b = i / (fields * dim);
    float s = 0.0f;
    for (int g = 0; g < fields; g++)
    {
        if (g == f) continue;
        int p = f < g ? pair_index(f, g, fields) : pair_index(g, f, fields);
        global float* up = u + p * dim * dim;
        global float* xg = x + (b * fields + g) * dim;
        float t = 0.0f;
        for (int c = 0; c < dim; c++) t += (up[a * dim + c] + up[c * dim + a]) * xg[c];
        s += dy[b * pairs + p] * t;
    }
    dx[i] += s;
}

// y = Σ_{a,c} U[a, c]·(x_i,a·x_j,c + x_i,c·x_j,a), so dU_p[a, c] = Σ_b dy_p·(x_i,a·x_j,c + x_j,a·x_i,c);
// one item per element of U.
kernel void fefm_backward_u(const int batch, const int fields, const int dim, FB(x), FB(dy), FB(du))
{
    AT(x); AT(dy); AT(du);
    int pairs = fields * (fields - 1) / 2, i = GID, c = i % dim, a = (i / dim) % dim, p = i / (dim * dim);
    int2 ij = pair_of(p, fields);
    float s = 0.0f;
    for (int b = 0; b < batch; b++)
    {
        global float* xi = x + (b * fields + ij.x) * dim;
        global float* xj = x + (b * fields + ij.y) * dim;
        s += dy[b * pairs + p] * (xi[a] * xj[c] + xj[a] * xi[c]);
    }
    du[i] += s;
}
