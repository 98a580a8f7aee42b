using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace CtrDsl.Optim;

/// <summary>
/// The per-element math of an optimizer with one state slot per weight, written once per width.
/// The scalar and vector forms must perform the same float operations in the same order (no fused multiply-add),
/// so a weight gets the same bits whichever width updates it: that is what lets the dense path and the
/// row-sparse path share one definition and agree exactly.
/// </summary>
internal interface IOptimKernel1<TCoefficients>
    where TCoefficients : struct
{
    static abstract void Apply(ref float w, float g, ref float s, in TCoefficients c);

    static abstract void Apply(ref Vector512<float> w, Vector512<float> g, ref Vector512<float> s, in TCoefficients c);

    static abstract void Apply(ref Vector256<float> w, Vector256<float> g, ref Vector256<float> s, in TCoefficients c);
}

/// <summary>As <see cref="IOptimKernel1{TCoefficients}"/>, with two state slots per weight.</summary>
internal interface IOptimKernel2<TCoefficients>
    where TCoefficients : struct
{
    static abstract void Apply(ref float w, float g, ref float a, ref float b, in TCoefficients c);

    static abstract void Apply(
        ref Vector512<float> w, Vector512<float> g, ref Vector512<float> a, ref Vector512<float> b, in TCoefficients c);

    static abstract void Apply(
        ref Vector256<float> w, Vector256<float> g, ref Vector256<float> a, ref Vector256<float> b, in TCoefficients c);
}

/// <summary>The loop every optimizer kernel runs through: 512-bit vectors first, then 256-bit, then the scalar tail.</summary>
internal static class OptimLoop
{
    /// <summary>Applies a one-slot kernel at every index; all spans have the length of <paramref name="w"/>.</summary>
    public static void Run<TKernel, TCoefficients>(
        Span<float> w, ReadOnlySpan<float> g, Span<float> s, in TCoefficients c)
        where TKernel : IOptimKernel1<TCoefficients>
        where TCoefficients : struct
    {
        int n = w.Length;
        CheckLength(nameof(g), n, g.Length);
        CheckLength(nameof(s), n, s.Length);
        Run<TKernel, TCoefficients>(
            ref MemoryMarshal.GetReference(w), ref MemoryMarshal.GetReference(g), ref MemoryMarshal.GetReference(s), n, in c);
    }

    /// <summary>As the span form, on <paramref name="n"/> values from each reference, unchecked: the callers that split
    /// a tensor into chunks or rows check the bounds once for all of them.</summary>
    public static void Run<TKernel, TCoefficients>(ref float wr, ref float gr, ref float sr, int n, in TCoefficients c)
        where TKernel : IOptimKernel1<TCoefficients>
        where TCoefficients : struct =>
        Run<TKernel, TCoefficients, EveryIndex>(ref wr, ref gr, ref sr, ref Unsafe.NullRef<int>(), n, in c);

    /// <summary>
    /// As the unchecked form, on the indices whose <paramref name="keep"/> is −1 (all bits set) only; an index whose
    /// keep is 0 keeps its weight and state. The kernel runs on every index of a vector and a bitwise select stores
    /// back the old values where it must not change them, so an updated index gets the bits it gets from <c>Run</c>,
    /// and a kept one its own.
    /// </summary>
    public static void RunMasked<TKernel, TCoefficients>(ref float wr, ref float gr, ref float sr, ref int keep, int n, in TCoefficients c)
        where TKernel : IOptimKernel1<TCoefficients>
        where TCoefficients : struct =>
        Run<TKernel, TCoefficients, MaskedIndices>(ref wr, ref gr, ref sr, ref keep, n, in c);

    private static void Run<TKernel, TCoefficients, TMask>(ref float wr, ref float gr, ref float sr, ref int keep, int n, in TCoefficients c)
        where TKernel : IOptimKernel1<TCoefficients>
        where TCoefficients : struct
        where TMask : struct, IMask
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var u = (nuint)i;
                var w0 = Vector512.LoadUnsafe(ref wr, u);
                var s0 = Vector512.LoadUnsafe(ref sr, u);
                var (wv, sv) = (w0, s0);
                TKernel.Apply(ref wv, Vector512.LoadUnsafe(ref gr, u), ref sv, in c);
                TMask.Select(ref keep, u, wv, w0).StoreUnsafe(ref wr, u);
                TMask.Select(ref keep, u, sv, s0).StoreUnsafe(ref sr, u);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var u = (nuint)i;
                var w0 = Vector256.LoadUnsafe(ref wr, u);
                var s0 = Vector256.LoadUnsafe(ref sr, u);
                var (wv, sv) = (w0, s0);
                TKernel.Apply(ref wv, Vector256.LoadUnsafe(ref gr, u), ref sv, in c);
                TMask.Select(ref keep, u, wv, w0).StoreUnsafe(ref wr, u);
                TMask.Select(ref keep, u, sv, s0).StoreUnsafe(ref sr, u);
            }
        }
        for (; i < n; i++)
        {
            if (TMask.Updates(ref keep, i))
                TKernel.Apply(ref Unsafe.Add(ref wr, i), Unsafe.Add(ref gr, i), ref Unsafe.Add(ref sr, i), in c);
        }
    }

    /// <summary>Applies a two-slot kernel at every index; all spans have the length of <paramref name="w"/>.</summary>
    public static void Run<TKernel, TCoefficients>(
        Span<float> w, ReadOnlySpan<float> g, Span<float> a, Span<float> b, in TCoefficients c)
        where TKernel : IOptimKernel2<TCoefficients>
        where TCoefficients : struct
    {
        int n = w.Length;
        CheckLength(nameof(g), n, g.Length);
        CheckLength(nameof(a), n, a.Length);
        CheckLength(nameof(b), n, b.Length);
        Run<TKernel, TCoefficients>(
            ref MemoryMarshal.GetReference(w), ref MemoryMarshal.GetReference(g), ref MemoryMarshal.GetReference(a),
            ref MemoryMarshal.GetReference(b), n, in c);
    }

    /// <summary>As the span form, on <paramref name="n"/> values from each reference, unchecked.</summary>
    public static void Run<TKernel, TCoefficients>(ref float wr, ref float gr, ref float ar, ref float br, int n, in TCoefficients c)
        where TKernel : IOptimKernel2<TCoefficients>
        where TCoefficients : struct =>
        Run<TKernel, TCoefficients, EveryIndex>(ref wr, ref gr, ref ar, ref br, ref Unsafe.NullRef<int>(), n, in c);

    /// <summary>As the one-slot <c>RunMasked</c>, with two state slots.</summary>
    public static void RunMasked<TKernel, TCoefficients>(
        ref float wr, ref float gr, ref float ar, ref float br, ref int keep, int n, in TCoefficients c)
        where TKernel : IOptimKernel2<TCoefficients>
        where TCoefficients : struct =>
        Run<TKernel, TCoefficients, MaskedIndices>(ref wr, ref gr, ref ar, ref br, ref keep, n, in c);

    private static void Run<TKernel, TCoefficients, TMask>(
        ref float wr, ref float gr, ref float ar, ref float br, ref int keep, int n, in TCoefficients c)
        where TKernel : IOptimKernel2<TCoefficients>
        where TCoefficients : struct
        where TMask : struct, IMask
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var u = (nuint)i;
                var w0 = Vector512.LoadUnsafe(ref wr, u);
                var a0 = Vector512.LoadUnsafe(ref ar, u);
                var b0 = Vector512.LoadUnsafe(ref br, u);
                var (wv, av, bv) = (w0, a0, b0);
                TKernel.Apply(ref wv, Vector512.LoadUnsafe(ref gr, u), ref av, ref bv, in c);
                TMask.Select(ref keep, u, wv, w0).StoreUnsafe(ref wr, u);
                TMask.Select(ref keep, u, av, a0).StoreUnsafe(ref ar, u);
                TMask.Select(ref keep, u, bv, b0).StoreUnsafe(ref br, u);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var u = (nuint)i;
                var w0 = Vector256.LoadUnsafe(ref wr, u);
                var a0 = Vector256.LoadUnsafe(ref ar, u);
                var b0 = Vector256.LoadUnsafe(ref br, u);
                var (wv, av, bv) = (w0, a0, b0);
                TKernel.Apply(ref wv, Vector256.LoadUnsafe(ref gr, u), ref av, ref bv, in c);
                TMask.Select(ref keep, u, wv, w0).StoreUnsafe(ref wr, u);
                TMask.Select(ref keep, u, av, a0).StoreUnsafe(ref ar, u);
                TMask.Select(ref keep, u, bv, b0).StoreUnsafe(ref br, u);
            }
        }
        for (; i < n; i++)
        {
            if (!TMask.Updates(ref keep, i)) continue;
            TKernel.Apply(
                ref Unsafe.Add(ref wr, i), Unsafe.Add(ref gr, i), ref Unsafe.Add(ref ar, i), ref Unsafe.Add(ref br, i), in c);
        }
    }

    /// <summary>Which indices of a loop update: every one (<see cref="EveryIndex"/>, no mask is read) or those whose
    /// keep is −1 (<see cref="MaskedIndices"/>). A struct type argument, so the loop is compiled once per policy and
    /// the unmasked one carries no select.</summary>
    private interface IMask
    {
        static abstract Vector512<float> Select(ref int keep, nuint i, Vector512<float> updated, Vector512<float> old);

        static abstract Vector256<float> Select(ref int keep, nuint i, Vector256<float> updated, Vector256<float> old);

        static abstract bool Updates(ref int keep, int i);
    }

    private readonly struct EveryIndex : IMask
    {
        public static Vector512<float> Select(ref int keep, nuint i, Vector512<float> updated, Vector512<float> old) => updated;

        public static Vector256<float> Select(ref int keep, nuint i, Vector256<float> updated, Vector256<float> old) => updated;

        public static bool Updates(ref int keep, int i) => true;
    }

    private readonly struct MaskedIndices : IMask
    {
        public static Vector512<float> Select(ref int keep, nuint i, Vector512<float> updated, Vector512<float> old) =>
            Vector512.ConditionalSelect(Vector512.LoadUnsafe(ref keep, i).AsSingle(), updated, old);

        public static Vector256<float> Select(ref int keep, nuint i, Vector256<float> updated, Vector256<float> old) =>
            Vector256.ConditionalSelect(Vector256.LoadUnsafe(ref keep, i).AsSingle(), updated, old);

        public static bool Updates(ref int keep, int i) => Unsafe.Add(ref keep, i) != 0;
    }

    internal static void CheckLength(string span, int expected, int actual)
    {
        if (actual != expected) ThrowLength(span, expected, actual);
    }

    private static void ThrowLength(string span, int expected, int actual) =>
        throw new ArgumentException($"optimizer kernel: {span} has {actual} values, expected {expected} (the length of w)");
}
