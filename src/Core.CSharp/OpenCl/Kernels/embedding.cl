// ids [bags; len] (−1 pads) into table [rows; dim] → y [bags; dim]; one item per output value. An id outside the
// table reads as zeros here (the CPU backend throws); the data layer never produces one.
kernel void embedding_pool(const int len, const int dim, const int rows, const int mean, IB(ids), FB(table), FB(y))
{
    AT(ids); AT(table); AT(y);
    int i = GID, bag = i / dim, k = i % dim;
    float s = 0.0f;
    int n = 0;
    for (int l = 0; l < len; l++)
    {
        int r = ids[bag * len + l];
        if (r < 0 || r >= rows) continue;
        s += table[r * dim + k];
        n++;
    }
    y[i] = mean && n > 1 ? s * (1.0f / n) : s;
}

// The valid positions of padded ids: 1 where an id is present, 0 on padding (−1).
kernel void padding_mask(IB(ids), FB(y))
{
    AT(ids); AT(y);
    int i = GID;
    y[i] = ids[i] >= 0 ? 1.0f : 0.0f;
}

// Row gradients from a host-built CSR list, so no two items write one row and no atomics are needed.
// Unique row u gathers entries [starts[u], starts[u+1]): out[target[u]] (+)= Σ scale[e]·dy[bag[e]].
// Entries keep their order of appearance, so the sums are deterministic. A negative target −(t + 1) is written
// rather than added to even when accumulating (a sparse slot first touched by this call).
kernel void embedding_rows_backward(const int dim, IB(starts), IB(bags), FB(scales), IB(targets), FB(dy), FB(out), const int acc)
{
    AT(starts); AT(bags); AT(scales); AT(targets); AT(dy); AT(out);
    int i = GID, u = i / dim, k = i % dim, t = targets[u];
    float s = 0.0f;
    for (int e = starts[u]; e < starts[u + 1]; e++) s += scales[e] * dy[bags[e] * dim + k];
    global float* o = out + (t < 0 ? -t - 1 : t) * dim + k;
    *o = acc && t >= 0 ? *o + s : s;
}
