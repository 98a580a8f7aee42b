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

// y's axis d has size dims[d] and x-stride steps[d]; unused leading axes have size 1.
kernel void permute(const int8 dims, const int8 steps, FB(x), FB(y), const int acc)
{
    AT(x); AT(y);
    int i = GID, rest = i, src = 0;
    int d[8] = { dims.s0, dims.s1, dims.s2, dims.s3, dims.s4, dims.s5, dims.s6, dims.s7 };
    int s[8] = { steps.s0, steps.s1, steps.s2, steps.s3, steps.s4, steps.s5, steps.s6, steps.s7 };
    for (int a = 7; a >= 0; a--) { src += (rest % d[a]) * s[a]; rest /= d[a]; }
    if (acc) y[i] += x[src]; else y[i] = x[src];
}
