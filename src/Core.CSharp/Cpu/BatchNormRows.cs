using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace CtrDsl.Cpu;

/// <summary>
/// Batch norm's passes over one row of [rows; cols]: the per-feature sums (float64) and the per-feature affine maps,
/// each a loop over the row's features as Vector256 lanes, then a scalar tail. Vector and tail do the same IEEE
/// operations in the same order (no fused multiply-add), so a feature's result does not depend on its lane.
/// </summary>
internal static class BatchNormRows
{
    /// <summary>The last start of a whole vector in a row of n, or −1 without Vector256 hardware (all scalar).</summary>
    private static int LastVector(int n) => Vector256.IsHardwareAccelerated ? n - Vector256<float>.Count : -1;

    /// <summary>sum[j] += x[j].</summary>
    public static void Add(ReadOnlySpan<float> x, Span<double> sum)
    {
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref double sr = ref MemoryMarshal.GetReference(sum);
        int j = 0;
        for (int last = LastVector(x.Length); j <= last; j += Vector256<float>.Count)
        {
            var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref xr, (nuint)j));
            (Vector256.LoadUnsafe(ref sr, (nuint)j) + lo).StoreUnsafe(ref sr, (nuint)j);
            (Vector256.LoadUnsafe(ref sr, (nuint)j + 4) + hi).StoreUnsafe(ref sr, (nuint)j + 4);
        }
        for (; j < x.Length; j++) sum[j] += x[j];
    }

    /// <summary>squares[j] += (x[j] − mean[j])², in float64.</summary>
    public static void AddSquaredDeviations(ReadOnlySpan<float> x, ReadOnlySpan<double> mean, Span<double> squares)
    {
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref double mr = ref MemoryMarshal.GetReference(mean);
        ref double qr = ref MemoryMarshal.GetReference(squares);
        int j = 0;
        for (int last = LastVector(x.Length); j <= last; j += Vector256<float>.Count)
        {
            var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref xr, (nuint)j));
            var dl = lo - Vector256.LoadUnsafe(ref mr, (nuint)j);
            var dh = hi - Vector256.LoadUnsafe(ref mr, (nuint)j + 4);
            (Vector256.LoadUnsafe(ref qr, (nuint)j) + dl * dl).StoreUnsafe(ref qr, (nuint)j);
            (Vector256.LoadUnsafe(ref qr, (nuint)j + 4) + dh * dh).StoreUnsafe(ref qr, (nuint)j + 4);
        }
        for (; j < x.Length; j++) { double d = x[j] - mean[j]; squares[j] += d * d; }
    }

    /// <summary>y[j] = (x[j] − μ[j])·rstd[j]·γ[j] + β[j].</summary>
    public static void Normalise(ReadOnlySpan<float> x, ReadOnlySpan<float> mu, ReadOnlySpan<float> rstd, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> beta, Span<float> y)
    {
        int j = 0;
        for (int last = LastVector(x.Length); j <= last; j += Vector256<float>.Count)
        {
            var v = (Load(x, j) - Load(mu, j)) * Load(rstd, j) * Load(gamma, j) + Load(beta, j);
            v.StoreUnsafe(ref MemoryMarshal.GetReference(y), (nuint)j);
        }
        for (; j < x.Length; j++) y[j] = (x[j] - mu[j]) * rstd[j] * gamma[j] + beta[j];
    }

    /// <summary>sumDy[j] += dy[j]; sumDyXh[j] += dy[j]·(x[j] − μ[j])·rstd[j] (the product in float32, as x̂'s rounding).</summary>
    public static void AddGradientSums(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, ReadOnlySpan<float> mu, ReadOnlySpan<float> rstd,
        Span<double> sumDy, Span<double> sumDyXh)
    {
        ref double sr = ref MemoryMarshal.GetReference(sumDy);
        ref double pr = ref MemoryMarshal.GetReference(sumDyXh);
        int j = 0;
        for (int last = LastVector(x.Length); j <= last; j += Vector256<float>.Count)
        {
            var d = Load(dy, j);
            var (dl, dh) = Vector256.Widen(d);
            var (pl, ph) = Vector256.Widen(d * (Load(x, j) - Load(mu, j)) * Load(rstd, j));
            (Vector256.LoadUnsafe(ref sr, (nuint)j) + dl).StoreUnsafe(ref sr, (nuint)j);
            (Vector256.LoadUnsafe(ref sr, (nuint)j + 4) + dh).StoreUnsafe(ref sr, (nuint)j + 4);
            (Vector256.LoadUnsafe(ref pr, (nuint)j) + pl).StoreUnsafe(ref pr, (nuint)j);
            (Vector256.LoadUnsafe(ref pr, (nuint)j + 4) + ph).StoreUnsafe(ref pr, (nuint)j + 4);
        }
        for (; j < x.Length; j++)
        {
            float d = dy[j];
            sumDy[j] += d;
            sumDyXh[j] += d * (x[j] - mu[j]) * rstd[j];
        }
    }

    /// <summary>dx[j] += k[j]·(n·dy[j] − Σdy[j] − x̂[j]·Σ(dy·x̂)[j]) with x̂ = (x − μ)·rstd.</summary>
    public static void AccumulateInput(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, ReadOnlySpan<float> mu, ReadOnlySpan<float> rstd,
        ReadOnlySpan<float> k, ReadOnlySpan<float> sumDy, ReadOnlySpan<float> sumDyXh, int n, Span<float> dx)
    {
        var nv = Vector256.Create((float)n);
        int j = 0;
        for (int last = LastVector(x.Length); j <= last; j += Vector256<float>.Count)
        {
            var xh = (Load(x, j) - Load(mu, j)) * Load(rstd, j);
            var v = Load(dx, j) + Load(k, j) * (nv * Load(dy, j) - Load(sumDy, j) - xh * Load(sumDyXh, j));
            v.StoreUnsafe(ref MemoryMarshal.GetReference(dx), (nuint)j);
        }
        for (; j < x.Length; j++)
        {
            float xh = (x[j] - mu[j]) * rstd[j];
            dx[j] += k[j] * (n * dy[j] - sumDy[j] - xh * sumDyXh[j]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Load(ReadOnlySpan<float> s, int j) => Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(s), (nuint)j);
}
