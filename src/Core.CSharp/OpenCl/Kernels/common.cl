// Shared by every kernel file. Buffers travel as (pointer, element offset) pairs so that a view into a larger
// buffer needs no sub-buffer (whose offsets would have to meet the device's base-address alignment).
// Work-items are launched one per output element unless a kernel says otherwise; global size = the count.
#define FB(n) global float* n, const int n##_off
#define IB(n) global int* n, const int n##_off
#define AT(n) (n += n##_off)
#define GID ((int)get_global_id(0))

// Pairs p = (i < j) of F fields in combinations order: p = i·(2F − i − 1)/2 + (j − i − 1).
inline int pair_index(int i, int j, int fields) { return i * (2 * fields - i - 1) / 2 + (j - i - 1); }

inline int2 pair_of(int p, int fields)
{
    int i = 0;
    while (p >= fields - 1 - i) { p -= fields - 1 - i; i++; }
    return (int2)(i, i + 1 + p);
}
