using System.Text;

namespace CtrDsl.Tensors;

/// <summary>
/// A float32 host tensor: a shape and contiguous row-major storage. Names follow PyTorch and DiffSharp
/// (<c>zeros</c>, <c>shape</c>, <c>numel</c>, <c>view</c>, <c>item</c>), so reading a plan's output feels familiar.
/// Views share storage; <see cref="Clone"/> copies.
/// </summary>
public sealed class Tensor
{
    private readonly float[] _data;
    private readonly int _offset;

    private Tensor(float[] data, int offset, int[] shape)
    {
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"tensor: negative dimension in {Format(shape)}");
            n *= d;
        }
        if (offset + n > data.Length) throw new ArgumentException($"tensor: {data.Length - offset} values cannot fill {Format(shape)}");
        _data = data;
        _offset = offset;
        Shape = shape;
        Numel = (int)n;
    }

    public int[] Shape { get; }
    public int Numel { get; }
    public int Dim => Shape.Length;

    public static Tensor Zeros(params int[] shape) => new(new float[Count(shape)], 0, (int[])shape.Clone());
    public static Tensor Full(int[] shape, float value)
    {
        var t = Zeros(shape);
        t.AsSpan().Fill(value);
        return t;
    }
    public static Tensor Ones(params int[] shape) => Full(shape, 1f);

    /// <summary>Wraps an array without copying.</summary>
    public static Tensor FromArray(float[] data, params int[] shape) =>
        new(data, 0, shape.Length == 0 ? [data.Length] : (int[])shape.Clone());

    public static Tensor Arange(int n)
    {
        var t = Zeros(n);
        for (int i = 0; i < n; i++) t._data[i] = i;
        return t;
    }

    public Span<float> AsSpan() => _data.AsSpan(_offset, Numel);

    public float[] ToArray() => AsSpan().ToArray();

    [System.Runtime.CompilerServices.IndexerName("At")]
    public float this[params int[] index]
    {
        get => _data[_offset + Flat(index)];
        set => _data[_offset + Flat(index)] = value;
    }

    /// <summary>The single value of a one-element tensor.</summary>
    public float Item() => Numel == 1 ? _data[_offset] : throw new InvalidOperationException($"item: tensor {Format(Shape)} has {Numel} values");

    /// <summary>The same storage with another shape; one dimension may be −1 and is inferred.</summary>
    public Tensor View(params int[] shape)
    {
        var s = (int[])shape.Clone();
        int infer = Array.IndexOf(s, -1);
        if (infer >= 0)
        {
            long rest = 1;
            for (int i = 0; i < s.Length; i++) if (i != infer) rest *= s[i];
            s[infer] = rest == 0 ? 0 : (int)(Numel / rest);
        }
        if (Count(s) != Numel) throw new ArgumentException($"view: cannot see {Format(Shape)} as {Format(shape)}");
        return new Tensor(_data, _offset, s);
    }

    public Tensor Reshape(params int[] shape) => View(shape);
    public Tensor Flatten() => View(Numel);

    /// <summary>Row <paramref name="i"/> of the first axis, sharing storage.</summary>
    public Tensor Select(int i)
    {
        if (Dim == 0 || (uint)i >= (uint)Shape[0]) throw new IndexOutOfRangeException($"select: index {i} outside {Format(Shape)}");
        int rowSize = Shape[0] == 0 ? 0 : Numel / Shape[0];
        return new Tensor(_data, _offset + i * rowSize, Shape[1..]);
    }

    public Tensor Clone() => FromArray(ToArray(), Shape);

    private int Flat(int[] index)
    {
        if (index.Length != Dim) throw new ArgumentException($"index of rank {index.Length} into {Format(Shape)}");
        int flat = 0;
        for (int d = 0; d < Dim; d++)
        {
            if ((uint)index[d] >= (uint)Shape[d]) throw new IndexOutOfRangeException($"index {index[d]} outside dimension {d} of {Format(Shape)}");
            flat = flat * Shape[d] + index[d];
        }
        return flat;
    }

    private static long Count(int[] shape)
    {
        long n = 1;
        foreach (var d in shape) n *= d;
        return n;
    }

    private static string Format(int[] shape) => "[" + string.Join("; ", shape) + "]";

    public override string ToString()
    {
        var sb = new StringBuilder($"tensor {Format(Shape)} ");
        var span = AsSpan();
        int show = Math.Min(span.Length, 8);
        sb.Append('[');
        for (int i = 0; i < show; i++) sb.Append(i > 0 ? ", " : "").Append(span[i].ToString("G5", System.Globalization.CultureInfo.InvariantCulture));
        if (span.Length > show) sb.Append(", …");
        return sb.Append(']').ToString();
    }
}
