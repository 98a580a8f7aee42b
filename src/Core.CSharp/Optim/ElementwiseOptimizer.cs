using CtrDsl.Tensors;

namespace CtrDsl.Optim;

/// <summary>
/// An optimizer whose update is elementwise over each parameter, with per-element state slots.
/// <see cref="Step"/> first adds each parameter's L2 gradient (<see cref="Regularization.AddGradient"/>), then
/// updates a dense parameter as a whole and an embedding table row by row over its touched rows only. The built-in
/// optimizers run both on the worker pool (<see cref="ParallelUpdate"/>), with the same bits for any thread count.
/// A table without a sparse gradient this step (null or <c>Count = 0</c>) is left alone.
/// </summary>
public abstract class ElementwiseOptimizer : Optimizer
{
    private readonly Parameter[] parameters;
    private readonly Dictionary<string, float[]> state = new(StringComparer.Ordinal);
    private float learningRate;

    protected ElementwiseOptimizer(string name, IEnumerable<Parameter> parameters, float learningRate)
    {
        Name = name;
        this.parameters = parameters.ToArray();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in this.parameters)
        {
            if (!names.Add(p.Name))
                throw new ArgumentException($"{name}: two parameters are named '{p.Name}'; state keys need unique names");
        }
        LearningRate = learningRate;
    }

    /// <summary>The optimizer's name in messages and errors ("Adam", "FTRL", …).</summary>
    public string Name { get; }

    public sealed override IReadOnlyList<Parameter> Parameters => parameters;

    public sealed override float LearningRate
    {
        get => learningRate;
        set
        {
            if (!(value >= 0f) || float.IsInfinity(value))
                throw new ArgumentOutOfRangeException(nameof(value), $"{Name}: learning rate must be finite and ≥ 0, got {value}");
            learningRate = value;
        }
    }

    public sealed override long Steps => steps;
    private long steps;

    public sealed override IReadOnlyDictionary<string, float[]> State => state;

    public sealed override void Step()
    {
        steps++;
        BeginStep(steps);
        for (int i = 0; i < parameters.Length; i++)
        {
            var p = parameters[i];
            if (p.IsSparse)
            {
                var g = p.SparseGrad;
                if (g is null || g.Count == 0) continue;
                if (g.Dim != p.RowDim) ThrowRowDim(p, g);
                Regularization.AddGradient(p);
                UpdateRows(i, p, g);
            }
            else
            {
                Regularization.AddGradient(p);
                UpdateDense(i, p);
            }
        }
        EndStep(steps);
    }

    public sealed override void LoadState(IReadOnlyDictionary<string, float[]> given, long steps)
    {
        Validate(Name, state, given, steps);
        foreach (var (key, mine) in state) given[key].CopyTo(mine, 0);
        this.steps = steps;
    }

    /// <summary>Allocates the state slot "name/slot" for parameter <paramref name="index"/>, filled with <paramref name="initial"/>.</summary>
    protected float[] AddSlot(int index, string slot, float initial = 0f)
    {
        var p = parameters[index];
        var values = new float[p.Value.Length];
        if (initial != 0f) Array.Fill(values, initial);
        state.Add($"{p.Name}/{slot}", values);
        return values;
    }

    /// <summary>Runs before any parameter moves in step <paramref name="t"/> (1-based): compute per-step coefficients here.</summary>
    protected virtual void BeginStep(long t) { }

    /// <summary>Runs after every parameter has moved in step <paramref name="t"/>.</summary>
    protected virtual void EndStep(long t) { }

    /// <summary>Updates all of dense parameter <paramref name="index"/> from its <see cref="Parameter.Grad"/>.</summary>
    protected abstract void UpdateDense(int index, Parameter p);

    /// <summary>Updates the touched rows of embedding table <paramref name="index"/> (and their state) only.</summary>
    protected abstract void UpdateRows(int index, Parameter p, RowSparseGrad g);

    /// <summary>The offset of table row <paramref name="row"/> in <see cref="Parameter.Value"/> and in the state slots.</summary>
    protected static int RowStart(Parameter p, int row)
    {
        if ((uint)row >= (uint)p.Shape[0]) ThrowRow(p, row);
        return row * p.RowDim;
    }

    internal static void ThrowRow(Parameter p, int row) =>
        throw new ArgumentOutOfRangeException(nameof(row), $"{p}: sparse gradient names row {row}, outside [0, {p.Shape[0]})");

    private static void ThrowRowDim(Parameter p, RowSparseGrad g) =>
        throw new ArgumentException($"{p}: sparse gradient rows have {g.Dim} values, expected {p.RowDim}");
}
