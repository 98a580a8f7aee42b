using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace CtrDsl.Cpu;

/// <summary>
/// One vector width's operations, for kernels written once over <c>TV</c> and instantiated per width
/// (<see cref="Lanes512"/>, <see cref="Lanes256"/>): the matrix–vector GEMM paths and the pairwise inner products.
/// </summary>
internal unsafe interface ILanes<TV> where TV : struct
{
    static abstract int Count { get; }
    static abstract TV Zero { get; }
    static abstract TV Load(float* p);
    static abstract TV LoadAligned(float* p);
    static abstract void Store(TV v, float* p);
    static abstract void StoreAligned(TV v, float* p);
    static abstract void StoreNonTemporal(TV v, float* p);
    /// <summary>The lanes set in <paramref name="keep"/>, zero elsewhere; nothing else is read.</summary>
    static abstract TV MaskLoad(float* p, TV keep);
    /// <summary>Writes only the lanes set in <paramref name="keep"/>.</summary>
    static abstract void MaskStore(TV v, float* p, TV keep);
    static abstract TV Broadcast(float x);
    static abstract TV Fma(TV a, TV b, TV c);
    static abstract TV Add(TV a, TV b);
    /// <summary>The lanes whose column c + lane lies in [lo, hi).</summary>
    static abstract TV Mask(int c, int lo, int hi);
    /// <summary>The sums of the Count vectors at v (Count floats apart, aligned) as the lanes of one vector.</summary>
    static abstract TV Sums(float* v);
}

internal readonly unsafe struct Lanes512 : ILanes<Vector512<float>>
{
    public static int Count => 16;
    public static Vector512<float> Zero => Vector512<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(float* p) => Vector512.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> LoadAligned(float* p) => Vector512.LoadAligned(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<float> v, float* p) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void StoreAligned(Vector512<float> v, float* p) => v.StoreAligned(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreNonTemporal(Vector512<float> v, float* p) => Avx512F.StoreAlignedNonTemporal(p, v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MaskLoad(float* p, Vector512<float> keep) => Avx512F.MaskLoad(p, keep, Vector512<float>.Zero);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MaskStore(Vector512<float> v, float* p, Vector512<float> keep) => Avx512F.MaskStore(p, keep, v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Broadcast(float x) => Vector512.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Mask(int c, int lo, int hi)
    {
        var col = Vector512<int>.Indices + Vector512.Create(c);
        return (Vector512.GreaterThanOrEqual(col, Vector512.Create(lo)) & Vector512.LessThan(col, Vector512.Create(hi))).AsSingle();
    }

    // By halves, quarters, pairs and single lanes, each level one pair of shuffles and an add per two vectors.
    // Input position 4m + k takes vector 4k + m, so that lane q comes out as the sum of vector q.
    public static Vector512<float> Sums(float* v)
    {
        static Vector512<float> At(float* v, int position) => Vector512.LoadAligned(v + 16 * (4 * (position & 3) + (position >> 2)));
        static Vector512<float> Halves(Vector512<float> a, Vector512<float> b) =>
            Avx512F.Shuffle4x128(a, b, 0x44) + Avx512F.Shuffle4x128(a, b, 0xEE);
        static Vector512<float> Quarters(Vector512<float> a, Vector512<float> b) =>
            Avx512F.Shuffle4x128(a, b, 0x88) + Avx512F.Shuffle4x128(a, b, 0xDD);
        static Vector512<float> Pairs(Vector512<float> a, Vector512<float> b) =>
            Avx512F.UnpackLow(a.AsDouble(), b.AsDouble()).AsSingle() + Avx512F.UnpackHigh(a.AsDouble(), b.AsDouble()).AsSingle();
        static Vector512<float> Singles(Vector512<float> a, Vector512<float> b) =>
            Avx512F.Shuffle(a, b, 0x88) + Avx512F.Shuffle(a, b, 0xDD);
        var q0 = Quarters(Halves(At(v, 0), At(v, 1)), Halves(At(v, 2), At(v, 3)));
        var q1 = Quarters(Halves(At(v, 4), At(v, 5)), Halves(At(v, 6), At(v, 7)));
        var q2 = Quarters(Halves(At(v, 8), At(v, 9)), Halves(At(v, 10), At(v, 11)));
        var q3 = Quarters(Halves(At(v, 12), At(v, 13)), Halves(At(v, 14), At(v, 15)));
        return Singles(Pairs(q0, q1), Pairs(q2, q3));
    }
}

internal readonly unsafe struct Lanes256 : ILanes<Vector256<float>>
{
    public static int Count => 8;
    public static Vector256<float> Zero => Vector256<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* p) => Vector256.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> LoadAligned(float* p) => Vector256.LoadAligned(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<float> v, float* p) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void StoreAligned(Vector256<float> v, float* p) => v.StoreAligned(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreNonTemporal(Vector256<float> v, float* p) => Avx.StoreAlignedNonTemporal(p, v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> MaskLoad(float* p, Vector256<float> keep) => Avx.MaskLoad(p, keep);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MaskStore(Vector256<float> v, float* p, Vector256<float> keep) => Avx.MaskStore(p, keep, v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Broadcast(float x) => Vector256.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Mask(int c, int lo, int hi)
    {
        var col = Vector256<int>.Indices + Vector256.Create(c);
        return (Vector256.GreaterThanOrEqual(col, Vector256.Create(lo)) & Vector256.LessThan(col, Vector256.Create(hi))).AsSingle();
    }

    // As Lanes512.Sums with halves, pairs and single lanes: position 2m + k takes vector 4k + m.
    public static Vector256<float> Sums(float* v)
    {
        static Vector256<float> At(float* v, int position) => Vector256.LoadAligned(v + 8 * (4 * (position & 1) + (position >> 1)));
        static Vector256<float> Halves(Vector256<float> a, Vector256<float> b) =>
            Avx.Permute2x128(a, b, 0x20) + Avx.Permute2x128(a, b, 0x31);
        static Vector256<float> Pairs(Vector256<float> a, Vector256<float> b) =>
            Avx.UnpackLow(a.AsDouble(), b.AsDouble()).AsSingle() + Avx.UnpackHigh(a.AsDouble(), b.AsDouble()).AsSingle();
        static Vector256<float> Singles(Vector256<float> a, Vector256<float> b) =>
            Avx.Shuffle(a, b, 0x88) + Avx.Shuffle(a, b, 0xDD);
        return Singles(Pairs(Halves(At(v, 0), At(v, 1)), Halves(At(v, 2), At(v, 3))),
            Pairs(Halves(At(v, 4), At(v, 5)), Halves(At(v, 6), At(v, 7))));
    }
}
