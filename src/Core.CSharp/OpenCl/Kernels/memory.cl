kernel void fill(FB(y), const float value) { AT(y); y[GID] = value; }

// rows·width items: y[r·ys + c] (+)= x[r·xs + c].
kernel void copy_rows(const int width, FB(x), const int xs, FB(y), const int ys, const int acc)
{
    AT(x); AT(y);
    int i = GID, r = i / width, c = i % width;
    float v = x[r * xs + c];
    if (acc) y[r * ys + c] += v; else y[r * ys + c] = v;
}

kernel void axpy(const float alpha, FB(x), FB(y)) { AT(x); AT(y); int i = GID; y[i] = x[i] * alpha + y[i]; }

// GEMM epilogue on C [m; n] with leading dimension ldc: c += bias[j], then ReLU when asked.
kernel void gemm_epilogue(const int n, FB(c), const int ldc, FB(bias), const int relu)
{
    AT(c); AT(bias);
    int i = GID, r = i / n, j = i % n;
    float v = c[r * ldc + j] + bias[j];
    c[r * ldc + j] = relu && v < 0.0f ? 0.0f : v;
}

// C = beta·C on [m; n] (a GEMM with k = 0, which CLBlast refuses).
kernel void scale_matrix(const int n, FB(c), const int ldc, const float beta)
{
    AT(c);
    int i = GID, r = i / n, j = i % n;
    c[r * ldc + j] = beta == 0.0f ? 0.0f : beta * c[r * ldc + j];
}
