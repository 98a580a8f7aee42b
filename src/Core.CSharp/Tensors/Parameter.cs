namespace CtrDsl.Tensors;

/// <summary>
/// A trainable tensor: its value, and the gradient the last backward pass produced.
/// Dense parameters accumulate into <see cref="Grad"/>. Embedding tables ([rows; dim], <see cref="IsSparse"/>)
/// receive a <see cref="RowSparseGrad"/> instead, so an optimizer can update only the touched rows.
/// </summary>
public sealed class Parameter
{
    public Parameter(string name, int[] shape, bool isSparse = false)
    {
        if (shape.Length == 0 || shape.Any(d => d < 0))
            throw new ArgumentException($"parameter {name}: shape must be non-empty and non-negative");
        if (isSparse && shape.Length != 2)
            throw new ArgumentException($"parameter {name}: a sparse parameter is an embedding table [rows; dim]");
        Name = name;
        Shape = shape;
        IsSparse = isSparse;
        long n = 1;
        foreach (var d in shape) n *= d;
        Value = new float[n];
        Grad = isSparse ? Array.Empty<float>() : new float[n];
        SparseGrad = isSparse ? new RowSparseGrad(0, shape[1]) : null;
    }

    public string Name { get; }
    public int[] Shape { get; }
    public bool IsSparse { get; }

    /// <summary>Row width of an embedding table (the last dimension).</summary>
    public int RowDim => Shape[^1];

    /// <summary>The values, row-major.</summary>
    public float[] Value { get; }

    /// <summary>The dense gradient (empty for a sparse parameter).</summary>
    public float[] Grad { get; }

    /// <summary>The row-sparse gradient of an embedding table; set by the plan that owns the lookup.</summary>
    public RowSparseGrad? SparseGrad { get; set; }

    /// <summary>L2 strength for this parameter (the convention is stated in Optim/Regularization.cs).</summary>
    public float L2 { get; set; }

    /// <summary>Name of the parameter group (e.g. "embedding", "dnn", "linear") optimizers and L2 can key on.</summary>
    public string Group { get; set; } = "default";

    public long Numel => Value.LongLength;

    /// <summary>How the initial values were drawn (set by <see cref="Init.Initializer.Fill(Parameter, ulong)"/>): what a
    /// sharded table needs to draw its own rows of the same values.</summary>
    public Init.InitialDraw? Drawn { get; set; }

    /// <summary>False for state that moves without an optimizer, e.g. batch-norm running statistics.</summary>
    public bool Trainable { get; init; } = true;

    public override string ToString() => $"{Name} [{string.Join("; ", Shape)}]";
}
