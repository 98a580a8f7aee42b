using CtrDsl.Tensors;

namespace CtrDsl.Optim;

/// <summary>
/// Sends each group of parameters to its own optimizer, e.g. Wide &amp; Deep's FTRL for the wide part and Adagrad for
/// the deep part. Every parameter belongs to exactly one part; <see cref="Step"/> steps every part once.
/// <para><see cref="LearningRate"/> is a multiplier on each part's own rate as it was when the composite was built
/// (it starts at 1), so a schedule that scales the rate (reduce-on-plateau: lr ← lr·factor) scales every part.</para>
/// <para><see cref="State"/> is the union of the parts' states; parameter names are unique across parts.</para>
/// </summary>
public sealed class GroupedOptimizer : Optimizer
{
    private readonly Optimizer[] parts;
    private readonly float[] baseRates;
    private readonly Parameter[] parameters;
    private readonly Dictionary<string, float[]> state = new(StringComparer.Ordinal);
    private float scale = 1f;
    private long steps;

    public GroupedOptimizer(IEnumerable<Optimizer> parts)
    {
        this.parts = parts.ToArray();
        baseRates = this.parts.Select(o => o.LearningRate).ToArray();
        parameters = this.parts.SelectMany(o => o.Parameters).ToArray();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in parameters)
        {
            if (!seen.Add(p.Name))
                throw new ArgumentException($"grouped optimizer: parameter '{p.Name}' belongs to more than one part, or two share the name");
        }
        foreach (var part in this.parts)
        {
            if (part.Steps != 0)
                throw new ArgumentException("grouped optimizer: parts must be fresh (Steps = 0); load a checkpoint into the composite");
            foreach (var (key, values) in part.State) state.Add(key, values);
        }
    }

    /// <summary>
    /// Splits <paramref name="parameters"/> by the first rule whose predicate accepts each one, and builds each rule's
    /// optimizer over its parameters (in their original order). A parameter no rule accepts is an error naming it;
    /// a rule that accepts nothing gets no optimizer.
    /// </summary>
    public static GroupedOptimizer Split(
        IEnumerable<Parameter> parameters,
        params (Func<Parameter, bool> Accepts, Func<IReadOnlyList<Parameter>, Optimizer> Create)[] rules)
    {
        var buckets = rules.Select(_ => new List<Parameter>()).ToArray();
        foreach (var p in parameters)
        {
            int r = Array.FindIndex(rules, rule => rule.Accepts(p));
            if (r < 0) throw new ArgumentException($"grouped optimizer: no rule accepts parameter {p} (group '{p.Group}')");
            buckets[r].Add(p);
        }
        return new GroupedOptimizer(
            Enumerable.Range(0, rules.Length).Where(r => buckets[r].Count > 0).Select(r => rules[r].Create(buckets[r])));
    }

    /// <summary>
    /// Splits by <see cref="Parameter.Group"/>: each group name maps to the factory of its optimizer. A parameter whose
    /// group has no factory is an error naming the parameter and the known groups.
    /// </summary>
    public static GroupedOptimizer ByGroup(
        IEnumerable<Parameter> parameters, IReadOnlyDictionary<string, Func<IReadOnlyList<Parameter>, Optimizer>> byGroup)
    {
        var list = parameters.ToList();
        foreach (var p in list)
        {
            if (!byGroup.ContainsKey(p.Group))
                throw new ArgumentException(
                    $"grouped optimizer: parameter {p} is in group '{p.Group}', which has no optimizer (groups: {string.Join(", ", byGroup.Keys)})");
        }
        return Split(list, byGroup.Select(kv => (
            (Func<Parameter, bool>)(p => p.Group == kv.Key), kv.Value)).ToArray());
    }

    /// <summary>The optimizers, one per group.</summary>
    public IReadOnlyList<Optimizer> Parts => parts;

    public override IReadOnlyList<Parameter> Parameters => parameters;

    public override float LearningRate
    {
        get => scale;
        set
        {
            if (!(value >= 0f) || float.IsInfinity(value))
                throw new ArgumentOutOfRangeException(nameof(value), $"grouped optimizer: learning-rate multiplier must be finite and ≥ 0, got {value}");
            scale = value;
            for (int i = 0; i < parts.Length; i++) parts[i].LearningRate = baseRates[i] * value;
        }
    }

    public override long Steps => steps;

    public override IReadOnlyDictionary<string, float[]> State => state;

    public override void Step()
    {
        steps++;
        for (int i = 0; i < parts.Length; i++) parts[i].Step();
    }

    public override void LoadState(IReadOnlyDictionary<string, float[]> given, long steps)
    {
        Validate("grouped optimizer", state, given, steps);
        foreach (var part in parts)
            part.LoadState(part.State.Keys.ToDictionary(key => key, key => given[key], StringComparer.Ordinal), steps);
        this.steps = steps;
    }
}
