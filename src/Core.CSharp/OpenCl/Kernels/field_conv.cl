// Convolution along fields on [batch; channels; fields; dim], kernel (h, 1), 'same' padding with top = (h−1)/2:
// output row f reads input rows f + t − top for taps t < h that fall inside.
kernel void field_conv(const int cin, const int cout, const int fields, const int dim, const int h,
    FB(x), FB(w), FB(bias), FB(y))
{
    AT(x); AT(w); AT(bias); AT(y);
    int plane = fields * dim, top = (h - 1) / 2;
    int i = GID, k = i % dim, f = (i / dim) % fields, o = (i / plane) % cout, b = i / (plane * cout);
    float s = bias[o];
    for (int c = 0; c < cin; c++)
        for (int t = 0; t < h; t++)
        {
            int src = f + t - top;
            if (src >= 0 && src < fields) s += w[(o * cin + c) * h + t] * x[((b * cin + c) * fields + src) * dim + k];
        }
    y[i] = s;
}

// dx[b, c, s] += Σ_o Σ_t w[o, c, t]·dy[b, o, s − (t − top)]; one item per element of x.
kernel void field_conv_backward_x(const int cin, const int cout, const int fields, const int dim, const int h,
    FB(w), FB(dy), FB(dx))
{
    AT(w); AT(dy); AT(dx);
    int plane = fields * dim, top = (h - 1) / 2;
    int i = GID, k = i % dim, src = (i / dim) % fields, c = (i / plane) % cin, b = i / (plane * cin);
    float s = 0.0f;
    for (int o = 0; o < cout; o++)
        for (int t = 0; t < h; t++)
        {
            int f = src - (t - top);
            if (f >= 0 && f < fields) s += w[(o * cin + c) * h + t] * dy[((b * cout + o) * fields + f) * dim + k];
        }
    dx[i] += s;
}

// dw[o, c, t] += Σ_b Σ_f ⟨dy[b, o, f], x[b, c, f + t − top]⟩; one item per weight.
kernel void field_conv_backward_w(const int batch, const int cin, const int cout, const int fields, const int dim, const int h,
    FB(x), FB(dy), FB(dw))
{
    AT(x); AT(dy); AT(dw);
    int top = (h - 1) / 2, i = GID, t = i % h, c = (i / h) % cin, o = i / (h * cin);
    int shift = t - top, f0 = max(0, -shift), f1 = min(fields, fields - shift);
    float s = 0.0f;
    for (int b = 0; b < batch; b++)
    {
        global float* g = dy + ((b * cout + o) * fields) * dim;
        global float* xc = x + ((b * cin + c) * fields) * dim;
        for (int f = f0; f < f1; f++)
            for (int k = 0; k < dim; k++) s += g[f * dim + k] * xc[(f + shift) * dim + k];
    }
    dw[i] += s;
}

kernel void field_conv_backward_bias(const int batch, const int cout, const int plane, FB(dy), FB(dbias))
{
    AT(dy); AT(dbias);
    int o = GID;
    float s = 0.0f;
    for (int b = 0; b < batch; b++)
        for (int e = 0; e < plane; e++) s += dy[(b * cout + o) * plane + e];
    dbias[o] += s;
}

// Max over windows [of·p, min(of·p + p, fields)) along fields, as on the CPU: a larger value replaces the running
// maximum and an equal one does not; the first NaN replaces it and stays. One item per output value.
kernel void field_max_pool(const int fields, const int dim, const int p, const int outFields, FB(x), FB(y))
{
    AT(x); AT(y);
    int i = GID, k = i % dim, of = (i / dim) % outFields, bc = i / (dim * outFields);
    int f0 = of * p, f1 = min(fields, f0 + p);
    global float* xp = x + bc * fields * dim;
    float v = xp[f0 * dim + k];
    for (int f = f0 + 1; f < f1; f++)
    {
        float c = xp[f * dim + k];
        if (c > v || (isnan(c) && !isnan(v))) v = c;
    }
    y[i] = v;
}

// The forward pass's arg-max found again from x and y: the first row equal to y, or the first NaN when y is NaN.
// Windows do not overlap, so each input value has at most one output routed to it: no write conflicts.
kernel void field_max_pool_backward(const int fields, const int dim, const int p, const int outFields, FB(x), FB(y), FB(dy), FB(dx))
{
    AT(x); AT(y); AT(dy); AT(dx);
    int i = GID, k = i % dim, of = (i / dim) % outFields, bc = i / (dim * outFields);
    int f0 = of * p, f1 = min(fields, f0 + p);
    int base = bc * fields * dim + k;
    float v = y[i];
    for (int f = f0; f < f1; f++)
    {
        float c = x[base + f * dim];
        if (c == v || (isnan(c) && isnan(v)))
        {
            dx[base + f * dim] += dy[i];
            return;
        }
    }
}
