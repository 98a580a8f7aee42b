using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace CtrDsl.Cpu;

/// <summary>A pointwise function of two values, written once per width.</summary>
public interface IBinaryKernel
{
    static abstract float Apply(float a, float b);
    static abstract Vector256<float> Apply(Vector256<float> a, Vector256<float> b);
    static abstract Vector512<float> Apply(Vector512<float> a, Vector512<float> b);
}

/// <summary>
/// The one loop skeleton every pointwise kernel shares: the widest vector first, then Vector256, then the scalar
/// tail. Kernels supply only the math.
/// </summary>
public static class Elementwise
{
    /// <summary>y[i] = K(a[i], b[i]).</summary>
    public static void Binary<K>(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) where K : IBinaryKernel
    {
        Run<K, Overwrite>(a, b, y);
    }

    /// <summary>y[i] += K(a[i], b[i]) — the shape of every backward rule that accumulates into a gradient.</summary>
    public static void Accumulate<K>(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) where K : IBinaryKernel
    {
        Run<K, Add>(a, b, y);
    }

    private interface IStore
    {
        static abstract float Store(float old, float v);
        static abstract Vector256<float> Store(Vector256<float> old, Vector256<float> v);
        static abstract Vector512<float> Store(Vector512<float> old, Vector512<float> v);
        static abstract bool ReadsOld { get; }
    }

    private readonly struct Overwrite : IStore
    {
        public static float Store(float old, float v) => v;
        public static Vector256<float> Store(Vector256<float> old, Vector256<float> v) => v;
        public static Vector512<float> Store(Vector512<float> old, Vector512<float> v) => v;
        public static bool ReadsOld => false;
    }

    private readonly struct Add : IStore
    {
        public static float Store(float old, float v) => old + v;
        public static Vector256<float> Store(Vector256<float> old, Vector256<float> v) => old + v;
        public static Vector512<float> Store(Vector512<float> old, Vector512<float> v) => old + v;
        public static bool ReadsOld => true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Run<K, S>(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y)
        where K : IBinaryKernel where S : IStore
    {
        int n = y.Length;
        if (a.Length < n || b.Length < n) ThrowShort(a.Length, b.Length, n);
        ref float ra = ref MemoryMarshal.GetReference(a);
        ref float rb = ref MemoryMarshal.GetReference(b);
        ref float ry = ref MemoryMarshal.GetReference(y);
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var v = K.Apply(Vector512.LoadUnsafe(ref ra, (nuint)i), Vector512.LoadUnsafe(ref rb, (nuint)i));
                if (S.ReadsOld) v = S.Store(Vector512.LoadUnsafe(ref ry, (nuint)i), v);
                v.StoreUnsafe(ref ry, (nuint)i);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var v = K.Apply(Vector256.LoadUnsafe(ref ra, (nuint)i), Vector256.LoadUnsafe(ref rb, (nuint)i));
                if (S.ReadsOld) v = S.Store(Vector256.LoadUnsafe(ref ry, (nuint)i), v);
                v.StoreUnsafe(ref ry, (nuint)i);
            }
        }
        for (; i < n; i++)
            Unsafe.Add(ref ry, i) = S.Store(Unsafe.Add(ref ry, i), K.Apply(Unsafe.Add(ref ra, i), Unsafe.Add(ref rb, i)));
    }

    private static void ThrowShort(int a, int b, int n) =>
        throw new ArgumentException($"elementwise: inputs of length {a} and {b} are shorter than the output ({n})");
}

/// <summary>ReLU backward from the output: dy where y &gt; 0.</summary>
public readonly struct ReluGrad : IBinaryKernel
{
    public static float Apply(float y, float dy) => y > 0f ? dy : 0f;
    public static Vector256<float> Apply(Vector256<float> y, Vector256<float> dy) =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(y, Vector256<float>.Zero), dy, Vector256<float>.Zero);
    public static Vector512<float> Apply(Vector512<float> y, Vector512<float> dy) =>
        Vector512.ConditionalSelect(Vector512.GreaterThan(y, Vector512<float>.Zero), dy, Vector512<float>.Zero);
}

/// <summary>Sigmoid backward from the output: dy·y·(1−y), so no exp is needed.</summary>
public readonly struct SigmoidGrad : IBinaryKernel
{
    public static float Apply(float y, float dy) => dy * y * (1f - y);
    public static Vector256<float> Apply(Vector256<float> y, Vector256<float> dy) => dy * y * (Vector256<float>.One - y);
    public static Vector512<float> Apply(Vector512<float> y, Vector512<float> dy) => dy * y * (Vector512<float>.One - y);
}

/// <summary>Tanh backward from the output: dy·(1−y²).</summary>
public readonly struct TanhGrad : IBinaryKernel
{
    public static float Apply(float y, float dy) => dy * (1f - y * y);
    public static Vector256<float> Apply(Vector256<float> y, Vector256<float> dy) => dy * (Vector256<float>.One - y * y);
    public static Vector512<float> Apply(Vector512<float> y, Vector512<float> dy) => dy * (Vector512<float>.One - y * y);
}

/// <summary>a·b.</summary>
public readonly struct MulKernel : IBinaryKernel
{
    public static float Apply(float a, float b) => a * b;
    public static Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => a * b;
    public static Vector512<float> Apply(Vector512<float> a, Vector512<float> b) => a * b;
}

/// <summary>The second operand: y += b (the first is ignored).</summary>
public readonly struct SecondKernel : IBinaryKernel
{
    public static float Apply(float a, float b) => b;
    public static Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => b;
    public static Vector512<float> Apply(Vector512<float> a, Vector512<float> b) => b;
}

/// <summary>Minus the second operand: y += −b.</summary>
public readonly struct NegSecondKernel : IBinaryKernel
{
    public static float Apply(float a, float b) => -b;
    public static Vector256<float> Apply(Vector256<float> a, Vector256<float> b) => -b;
    public static Vector512<float> Apply(Vector512<float> a, Vector512<float> b) => -b;
}
