namespace CtrDsl.Init;

/// <summary>
/// Fan-in and fan-out of a weight. Our Linear stores W as [in; out] and computes y = x·W + b, so for a weight of
/// shape [d₀; …; d_{k−1}; out] the fan-out is the last dimension and the fan-in is the product of the others
/// (for [in; out]: fan_in = in, fan_out = out). This is the transpose of PyTorch's [out; in] layout and gives the same
/// fans for the same layer. An embedding table [rows; dim] thus has fan_in = rows, fan_out = dim.
/// </summary>
public readonly record struct Fans(int In, int Out)
{
    /// <summary>The fans of a weight of shape <paramref name="shape"/>; throws for fewer than 2 dimensions (as torch).</summary>
    public static Fans Of(IReadOnlyList<int> shape)
    {
        if (shape.Count < 2)
            throw new ArgumentException(
                $"init: fan-in/fan-out need a weight of at least 2 dimensions [in; out], got [{string.Join("; ", shape)}]");
        long fanIn = 1;
        for (int i = 0; i < shape.Count - 1; i++) fanIn *= shape[i];
        return new Fans(checked((int)fanIn), shape[^1]);
    }
}
