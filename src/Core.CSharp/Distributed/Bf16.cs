namespace CtrDsl.Distributed;

/// <summary>
/// bfloat16: the upper 16 bits of a float (sign, the float's 8 exponent bits, 7 mantissa bits). It has the range of
/// float32, so gradients neither overflow nor flush to zero as they can in fp16, and 8 significant bits: rounding to nearest
/// moves a value by at most 2⁻⁸ ≈ 0.4 % of it. The gradient exchange sends bfloat16 to halve its bytes.
/// </summary>
public static class Bf16
{
    /// <summary>The bfloat16 nearest to <paramref name="x"/> (ties to even); NaN stays NaN.</summary>
    public static ushort Round(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        if (float.IsNaN(x)) return (ushort)((bits >> 16) | 0x40);   // quiet, whatever the low bits held
        uint bias = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + bias) >> 16);
    }

    /// <summary>The float a bfloat16 stands for (exact).</summary>
    public static float Widen(ushort h) => BitConverter.UInt32BitsToSingle((uint)h << 16);

    /// <summary>a + b taken in float and rounded to bfloat16.</summary>
    public static ushort Add(ushort a, ushort b) => Round(Widen(a) + Widen(b));

    /// <summary>to[i] ← bf16(from[i] · scale).</summary>
    public static void RoundScaled(ReadOnlySpan<float> from, float scale, Span<ushort> to)
    {
        for (int i = 0; i < from.Length; i++) to[i] = Round(from[i] * scale);
    }

    /// <summary>to[i] ← the float of from[i].</summary>
    public static void Widen(ReadOnlySpan<ushort> from, Span<float> to)
    {
        for (int i = 0; i < from.Length; i++) to[i] = Widen(from[i]);
    }
}
