// The GEMM family: CLBlast runs the products (OpenClBackend.Gemm.cs); these kernels finish or replace them.

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
