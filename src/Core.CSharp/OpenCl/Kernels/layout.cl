// rows·width items: y[r·ys + c] (+)= x[r·xs + c].
kernel void copy_rows(const int width, FB(x), const int xs, FB(y), const int ys, const int acc)
{
    AT(x); AT(y);
    int i = GID, r = i / width, c = i % width;
    float v = x[r * xs + c];
    if (acc) y[r * ys + c] += v; else y[r * ys + c] = v;
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
