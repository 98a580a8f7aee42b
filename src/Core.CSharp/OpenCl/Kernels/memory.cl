kernel void fill(FB(y), const float value) { AT(y); y[GID] = value; }

kernel void axpy(const float alpha, FB(x), FB(y)) { AT(x); AT(y); int i = GID; y[i] = x[i] * alpha + y[i]; }
