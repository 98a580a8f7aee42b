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

// PairwiseProduct and FieldOuter share one indexing: per sample, output row q pairs row i of a (outer) with
// row j of b (inner), over all j (upper = 0, FieldOuter) or only j > i (upper = 1, the pairs in combinations order).
inline int row_q(int i, int j, int rowsB, int upper) { return upper ? pair_index(i, j, rowsB) : i * rowsB + j; }

kernel void row_products(const int rowsA, const int rowsB, const int dim, const int upper, FB(a), FB(b), FB(y))
{
    AT(a); AT(b); AT(y);
    int q_count = upper ? rowsA * (rowsA - 1) / 2 : rowsA * rowsB;
    int i = GID, k = i % dim, q = (i / dim) % q_count, s = i / (dim * q_count);
    int2 ij = upper ? pair_of(q, rowsA) : (int2)(q / rowsB, q % rowsB);
    y[i] = a[(s * rowsA + ij.x) * dim + k] * b[(s * rowsB + ij.y) * dim + k];
}

// da_i += Σ_j dy_q(i,j) ⊙ b_j; one item per element of a. Reads only b and dy, so da may be db's buffer
// (the other half runs as its own launch, after this one on the in-order queue).
kernel void row_products_backward_a(const int rowsA, const int rowsB, const int dim, const int upper, FB(b), FB(dy), FB(da))
{
    AT(b); AT(dy); AT(da);
    int q_count = upper ? rowsA * (rowsA - 1) / 2 : rowsA * rowsB;
    int i = GID, k = i % dim, r = (i / dim) % rowsA, s = i / (dim * rowsA);
    float acc = 0.0f;
    for (int j = upper ? r + 1 : 0; j < rowsB; j++)
        acc += dy[(s * q_count + row_q(r, j, rowsB, upper)) * dim + k] * b[(s * rowsB + j) * dim + k];
    da[i] += acc;
}

// db_j += Σ_i dy_q(i,j) ⊙ a_i; one item per element of b.
kernel void row_products_backward_b(const int rowsA, const int rowsB, const int dim, const int upper, FB(a), FB(dy), FB(db))
{
    AT(a); AT(dy); AT(db);
    int q_count = upper ? rowsA * (rowsA - 1) / 2 : rowsA * rowsB;
    int i = GID, k = i % dim, c = (i / dim) % rowsB, s = i / (dim * rowsB);
    int end = upper ? c : rowsA;
    float acc = 0.0f;
    for (int r = 0; r < end; r++)
        acc += dy[(s * q_count + row_q(r, c, rowsB, upper)) * dim + k] * a[(s * rowsA + r) * dim + k];
    db[i] += acc;
}

kernel void pair_rows(const int fields, const int dim, const int second, FB(x), FB(y))
{
    AT(x); AT(y);
    int pairs = fields * (fields - 1) / 2, i = GID, k = i % dim, q = (i / dim) % pairs, s = i / (dim * pairs);
    int2 ij = pair_of(q, fields);
    y[i] = x[(s * fields + (second ? ij.y : ij.x)) * dim + k];
}

// dx_f += Σ dy_p over the pairs that read field f on this side; one item per element of x.
kernel void pair_rows_backward(const int fields, const int dim, const int second, FB(dy), FB(dx))
{
    AT(dy); AT(dx);
    int pairs = fields * (fields - 1) / 2, i = GID, k = i % dim, f = (i / dim) % fields, s = i / (dim * fields);
    float acc = 0.0f;
    if (second) for (int r = 0; r < f; r++) acc += dy[(s * pairs + pair_index(r, f, fields)) * dim + k];
    else for (int c = f + 1; c < fields; c++) acc += dy[(s * pairs + pair_index(f, c, fields)) * dim + k];
    dx[i] += acc;
}

// x [batch; fields; fields·dim]: y[b, p] = ⟨v_(i,j), v_(j,i)⟩ with v_(i,f) = x[b, i, f·dim …].
kernel void field_aware_inner(const int fields, const int dim, FB(x), FB(y))
{
    AT(x); AT(y);
    int pairs = fields * (fields - 1) / 2, row = fields * dim, i = GID, s = i / pairs;
    int2 ij = pair_of(i % pairs, fields);
    global float* vij = x + (s * fields + ij.x) * row + ij.y * dim;
    global float* vji = x + (s * fields + ij.y) * row + ij.x * dim;
    float acc = 0.0f;
    for (int k = 0; k < dim; k++) acc += vij[k] * vji[k];
    y[i] = acc;
}

// dv_(i,f) += dy_(i,f)·v_(f,i) for f ≠ i; one item per element of x.
kernel void field_aware_inner_backward(const int fields, const int dim, FB(x), FB(dy), FB(dx))
{
    AT(x); AT(dy); AT(dx);
    int pairs = fields * (fields - 1) / 2, row = fields * dim;
    int i = GID, k = i % dim, f = (i / dim) % fields, r = (i / row) % fields, s = i / (row * fields);
    if (f == r) return;
    int p = r < f ? pair_index(r, f, fields) : pair_index(f, r, fields);
    dx[i] += dy[s * pairs + p] * x[(s * fields + f) * row + r * dim + k];
}

// y[b, p][r, c] = x_i[r]·x_j[c]; one item per output value.
kernel void pairwise_outer(const int fields, const int dim, FB(x), FB(y))
{
    AT(x); AT(y);
    int pairs = fields * (fields - 1) / 2, block = dim * dim;
    int i = GID, c = i % dim, r = (i / dim) % dim, q = (i / block) % pairs, s = i / (block * pairs);
    int2 ij = pair_of(q, fields);
    y[i] = x[(s * fields + ij.x) * dim + r] * x[(s * fields + ij.y) * dim + c];
}

// dx_i[r] += Σ_c dy_p[r, c]·x_j[c] for pairs where the field is first, dx_j[c] += Σ_r dy_p[r, c]·x_i[r] where second.
kernel void pairwise_outer_backward(const int fields, const int dim, FB(x), FB(dy), FB(dx))
{
    AT(x); AT(dy); AT(dx);
    int pairs = fields * (fields - 1) / 2, block = dim * dim;
    int i = GID, k = i % dim, f = (i / dim) % fields, s = i / (dim * fields);
    float acc = 0.0f;
    for (int j = f + 1; j < fields; j++)
    {
        global float* g = dy + (s * pairs + pair_index(f, j, fields)) * block + k * dim;
        global float* xj = x + (s * fields + j) * dim;
        for (int c = 0; c < dim; c++) acc += g[c] * xj[c];
    }
    for (int j = 0; j < f; j++)
    {
        global float* g = dy + (s * pairs + pair_index(j, f, fields)) * block + k;
        global float* xj = x + (s * fields + j) * dim;
        for (int r = 0; r < dim; r++) acc += g[r * dim] * xj[r];
    }
    dx[i] += acc;
}
