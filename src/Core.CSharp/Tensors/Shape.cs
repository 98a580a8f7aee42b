using System.Collections;

namespace CtrDsl.Tensors;

/// <summary>
/// The dimensions of a tensor. A graph node's shape may start with the symbolic batch dimension
/// (<see cref="Batch"/>), bound to a number only when the graph is compiled. Shapes print as
/// <c>[batch; 26; 10]</c>, the form every error message uses.
/// </summary>
public readonly struct Shape : IEquatable<Shape>, IReadOnlyList<int>
{
    /// <summary>The symbolic batch dimension.</summary>
    public const int Batch = -1;

    private readonly int[]? _dims;

    public Shape(params int[] dims)
    {
        for (int i = 0; i < dims.Length; i++)
            if (dims[i] < 0 && !(i == 0 && dims[i] == Batch))
                throw new ArgumentException($"shape {Format(dims)}: dimension {i} is negative");
        _dims = (int[])dims.Clone();
    }

    /// <summary>A batched shape <c>[batch; dims…]</c>.</summary>
    public static Shape Batched(params int[] dims) => new([Batch, .. dims]);

    private ReadOnlySpan<int> Dims => _dims ?? [];

    public int Rank => Dims.Length;
    public int Count => Rank;
    public int this[int axis] => Dims[axis];

    /// <summary>True when the first dimension is the symbolic batch.</summary>
    public bool IsBatched => Rank > 0 && Dims[0] == Batch;

    /// <summary>The dimensions after the batch (all of them when not batched).</summary>
    public int[] Trailing => IsBatched ? Dims[1..].ToArray() : Dims.ToArray();

    /// <summary>Element count per sample: the product of the dimensions after the batch.</summary>
    public long SampleSize
    {
        get
        {
            long n = 1;
            var d = Dims;
            for (int i = IsBatched ? 1 : 0; i < d.Length; i++) n *= d[i];
            return n;
        }
    }

    /// <summary>Element count with the batch bound to <paramref name="batch"/>.</summary>
    public long Numel(int batch) => IsBatched ? SampleSize * batch : SampleSize;

    /// <summary>Concrete dimensions with the batch bound.</summary>
    public int[] Bind(int batch)
    {
        var d = Dims.ToArray();
        if (IsBatched) d[0] = batch;
        return d;
    }

    /// <summary>Product of dimensions in [from, to) with the batch bound.</summary>
    public long Product(int from, int to, int batch)
    {
        long n = 1;
        for (int i = from; i < to; i++) n *= Dims[i] == Batch ? batch : Dims[i];
        return n;
    }

    /// <summary>Normalises a possibly negative axis (Python style) against the rank.</summary>
    public int Axis(int axis)
    {
        int a = axis < 0 ? axis + Rank : axis;
        if (a < 0 || a >= Rank) throw new ShapeException($"axis {axis} is out of range for {this}");
        return a;
    }

    public int[] ToArray() => Dims.ToArray();

    public bool Equals(Shape other) => Dims.SequenceEqual(other.Dims);
    public override bool Equals(object? obj) => obj is Shape s && Equals(s);
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var d in Dims) h.Add(d);
        return h.ToHashCode();
    }
    public static bool operator ==(Shape a, Shape b) => a.Equals(b);
    public static bool operator !=(Shape a, Shape b) => !a.Equals(b);

    public IEnumerator<int> GetEnumerator() => ((IEnumerable<int>)(_dims ?? [])).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => Format(Dims);

    private static string Format(ReadOnlySpan<int> dims)
    {
        var parts = new string[dims.Length];
        for (int i = 0; i < dims.Length; i++) parts[i] = dims[i] == Batch ? "batch" : dims[i].ToString();
        return "[" + string.Join("; ", parts) + "]";
    }
}

/// <summary>A shape mismatch found while a graph is built; the graph adds the op and node to the message.</summary>
public sealed class ShapeException(string message) : Exception(message);
