using CtrDsl.Tensors;

namespace CtrDsl.Optim;

/// <summary>
/// Updates a fixed list of parameters from their gradients: the dense <see cref="Parameter.Grad"/>, or the
/// <see cref="Parameter.SparseGrad"/> of an embedding table. All state is allocated at construction; a steady-state
/// <see cref="Step"/> allocates nothing. <see cref="State"/> and <see cref="Steps"/> are everything a checkpoint
/// needs to resume bit-identically through <see cref="LoadState"/>.
/// </summary>
public abstract class Optimizer
{
    /// <summary>The parameters this optimizer updates, in a fixed order.</summary>
    public abstract IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>The learning rate of the next <see cref="Step"/>; may change between steps (schedules, reduce-on-plateau).</summary>
    public abstract float LearningRate { get; set; }

    /// <summary>How many steps have been applied; the next step is number <c>Steps + 1</c>.</summary>
    public abstract long Steps { get; }

    /// <summary>
    /// The live state arrays, keyed "parameterName/slot" (e.g. "emb/m", "emb/v"). The arrays are the optimizer's own:
    /// copy them to checkpoint.
    /// </summary>
    public abstract IReadOnlyDictionary<string, float[]> State { get; }

    /// <summary>Applies one update from each parameter's current gradient.</summary>
    public abstract void Step();

    /// <summary>
    /// Copies <paramref name="state"/> into this optimizer's state and sets <see cref="Steps"/>. The keys must be exactly
    /// those of <see cref="State"/>, each with the same number of values; otherwise throws
    /// <see cref="ArgumentException"/> naming the key, and leaves the state unchanged.
    /// </summary>
    public abstract void LoadState(IReadOnlyDictionary<string, float[]> state, long steps);

    /// <summary>Sets dense gradients to 0 and clears the row-sparse ones.</summary>
    public void ZeroGrad()
    {
        var ps = Parameters;
        for (int i = 0; i < ps.Count; i++)
        {
            var p = ps[i];
            if (p.IsSparse) p.SparseGrad?.Clear();
            else Array.Clear(p.Grad);
        }
    }

    /// <summary>Checks a state dictionary against the expected keys and sizes; the message names the optimizer and key.</summary>
    protected static void Validate(
        string optimizer, IReadOnlyDictionary<string, float[]> expected, IReadOnlyDictionary<string, float[]> given, long steps)
    {
        if (steps < 0)
            throw new ArgumentException($"{optimizer}.LoadState: steps must be non-negative, got {steps}");
        foreach (var (key, mine) in expected)
        {
            if (!given.TryGetValue(key, out var theirs))
                throw new ArgumentException($"{optimizer}.LoadState: missing state '{key}' ({mine.Length} values)");
            if (theirs.Length != mine.Length)
                throw new ArgumentException(
                    $"{optimizer}.LoadState: state '{key}': expected {mine.Length} values, got {theirs.Length}");
        }
        foreach (var key in given.Keys)
        {
            if (!expected.ContainsKey(key))
                throw new ArgumentException(
                    $"{optimizer}.LoadState: unexpected state '{key}' (expected keys: {string.Join(", ", expected.Keys)})");
        }
    }
}
