// UnaryFn: 0 Relu, 1 Sigmoid, 2 Tanh, 3 Identity. BinaryFn: 0 Add, 1 Sub, 2 Mul.
kernel void unary(const int fn, FB(x), FB(y))
{
    AT(x); AT(y);
    int i = GID;
    float v = x[i];
    y[i] = fn == 0 ? fmax(v, 0.0f) : fn == 1 ? 1.0f / (1.0f + exp(-v)) : fn == 2 ? tanh(v) : v;
}

// Every rule reads the saved output: relu dy·[y > 0], sigmoid dy·y·(1−y), tanh dy·(1−y²).
kernel void unary_backward(const int fn, FB(y), FB(dy), FB(dx))
{
    AT(y); AT(dy); AT(dx);
    int i = GID;
    float v = y[i], g = dy[i];
    dx[i] += fn == 0 ? (v > 0.0f ? g : 0.0f) : fn == 1 ? g * v * (1.0f - v) : fn == 2 ? g * (1.0f - v * v) : g;
}

kernel void relu_mask(FB(y), FB(dy))
{
    AT(y); AT(dy);
    int i = GID;
    if (!(y[i] > 0.0f)) dy[i] = 0.0f;
}

kernel void binary(const int fn, FB(a), FB(b), FB(y), const int period)
{
    AT(a); AT(b); AT(y);
    int i = GID;
    float u = a[i], v = b[i % period];
    y[i] = fn == 0 ? u + v : fn == 1 ? u - v : u * v;
}

kernel void binary_backward_a(const int fn, FB(b), FB(dy), FB(da), const int period)
{
    AT(b); AT(dy); AT(da);
    int i = GID;
    da[i] += fn == 2 ? dy[i] * b[i % period] : dy[i];
}

// One item per element of b: the sum over its repeats along a (n values in all).
kernel void binary_backward_b(const int fn, FB(a), FB(dy), FB(db), const int period, const int n)
{
    AT(a); AT(dy); AT(db);
    int j = GID;
    float s = 0.0f;
    for (int i = j; i < n; i += period) s += fn == 2 ? dy[i] * a[i] : dy[i];
    db[j] += fn == 1 ? -s : s;
}

kernel void prelu(const int cols, FB(x), FB(slope), FB(y))
{
    AT(x); AT(slope); AT(y);
    int i = GID;
    float v = x[i];
    y[i] = v >= 0.0f ? v : slope[i % cols] * v;
}

kernel void prelu_backward_x(const int cols, FB(x), FB(slope), FB(dy), FB(dx))
{
    AT(x); AT(slope); AT(dy); AT(dx);
    int i = GID;
    dx[i] += x[i] >= 0.0f ? dy[i] : slope[i % cols] * dy[i];
}

kernel void prelu_backward_slope(const int rows, const int cols, FB(x), FB(dy), FB(dslope))
{
    AT(x); AT(dy); AT(dslope);
    int j = GID;
    float s = 0.0f;
    for (int r = 0; r < rows; r++) { float v = x[r * cols + j]; if (v < 0.0f) s += dy[r * cols + j] * v; }
    dslope[j] += s;
}

// The CPU backend's mask: the top 24 bits of a SplitMix64 hash of (seed, index), so both backends drop the same units.
kernel void dropout(const float rate, const float keep, const ulong seed, FB(x), FB(mask), FB(y))
{
    AT(x); AT(mask); AT(y);
    int i = GID;
    ulong z = seed + (ulong)i * 0x9E3779B97F4A7C15UL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
    z ^= z >> 31;
    float u = (float)(z >> 40) * (1.0f / 16777216.0f);
    float m = u >= rate ? keep : 0.0f;
    mask[i] = m;
    y[i] = x[i] * m;
}

// x [outer; len; inner] → y [outer; inner], one item per output.
kernel void reduce_axis(const int len, const int inner, const float scale, FB(x), FB(y), const int acc)
{
    AT(x); AT(y);
    int i = GID, o = i / inner, k = i % inner;
    float s = 0.0f;
    for (int l = 0; l < len; l++) s += x[(o * len + l) * inner + k];
    y[i] = (acc ? y[i] : 0.0f) + scale * s;
}

kernel void broadcast_axis(const int len, const int inner, const float scale, FB(dy), FB(dx))
{
    AT(dy); AT(dx);
    int i = GID, o = i / (len * inner), k = i % inner;
    dx[i] += dy[o * inner + k] * scale;
}
