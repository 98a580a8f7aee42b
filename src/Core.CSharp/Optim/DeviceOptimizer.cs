using CtrDsl.Autodiff;
using CtrDsl.Backends;
using CtrDsl.Tensors;

namespace CtrDsl.Optim;

/// <summary>
/// Runs a host optimizer's rule (<see cref="Adam"/>, <see cref="Adagrad"/> or <see cref="Sgd"/>) on the plan's
/// device buffers, so parameters and optimizer state stay resident: the rule object supplies the hyperparameters,
/// the learning rate and the host mirrors of the state, and the backend's step kernels (IOptimizerKernels.AdamStep …, the same
/// span kernels on the CPU) do the update. Constructing one makes the plan <see cref="Plan.Resident"/>.
/// On the CPU backend the device buffers are the host arrays, so the result is bit-identical to <c>rule.Step()</c>.
/// <para><see cref="State"/> reads the device state into the rule's arrays and returns them; <see cref="LoadState"/>
/// writes them back. Parameter values come to the host through <see cref="Plan.SyncToHost"/>.</para>
/// <para>Gradients never reach the host, so host-side gradient clipping and <see cref="Optimizer.ZeroGrad"/> see stale
/// arrays (the plan overwrites gradients every backward pass anyway); FTRL and Ranger have no device kernels yet.</para>
/// </summary>
public sealed class DeviceOptimizer : Optimizer
{
    private readonly Plan _plan;
    private readonly IBackend _backend;
    private readonly Optimizer _rule;
    private readonly Slot[] _slots;
    private long _steps;

    /// <summary>One parameter's buffers: value, dense gradient or sparse accumulator, and up to two state slots
    /// (bound from the rule's host arrays, named as in its <see cref="Optimizer.State"/>).</summary>
    private sealed record Slot(Parameter P, BufferView W, BufferView G, SparseRowAccumulator? Rows, BufferView S1, BufferView S2,
        float[]? Host1, float[]? Host2);

    public DeviceOptimizer(Plan plan, Optimizer rule)
    {
        if (rule is not (Adam or Adagrad or Sgd))
            throw new ArgumentException($"DeviceOptimizer: {rule.GetType().Name} has no device kernels (Adam, Adagrad and SGD have); train it with the host round trip");
        if (rule.Steps != 0) throw new ArgumentException("DeviceOptimizer: the rule must not have stepped yet");
        _plan = plan;
        _backend = plan.Backend;
        _rule = rule;
        var (first, second) = rule switch { Adam => ("m", "v"), Adagrad => ("sum", (string?)null), _ => ("momentum", null) };
        _slots = rule.Parameters.Select(p =>
        {
            var h1 = rule.State.GetValueOrDefault($"{p.Name}/{first}");
            var h2 = second is null ? null : rule.State.GetValueOrDefault($"{p.Name}/{second}");
            return new Slot(p, plan.ValueOf(p), p.IsSparse ? default : plan.GradOf(p), p.IsSparse ? plan.SparseOf(p) : null,
                h1 is null ? default : _backend.Bind(h1).All, h2 is null ? default : _backend.Bind(h2).All, h1, h2);
        }).ToArray();
        plan.Resident = true;
    }

    public override IReadOnlyList<Parameter> Parameters => _rule.Parameters;

    public override float LearningRate { get => _rule.LearningRate; set => _rule.LearningRate = value; }

    public override long Steps => _steps;

    /// <summary>The rule's state arrays, refreshed from the device on each read.</summary>
    public override IReadOnlyDictionary<string, float[]> State
    {
        get
        {
            foreach (var s in _slots)
            {
                if (s.Host1 is not null) _backend.SyncToHost(s.S1.Buffer!, s.Host1);
                if (s.Host2 is not null) _backend.SyncToHost(s.S2.Buffer!, s.Host2);
            }
            return _rule.State;
        }
    }

    public override void LoadState(IReadOnlyDictionary<string, float[]> state, long steps)
    {
        _rule.LoadState(state, steps);
        foreach (var s in _slots)
        {
            if (s.Host1 is not null) _backend.SyncFromHost(s.Host1, s.S1.Buffer!);
            if (s.Host2 is not null) _backend.SyncFromHost(s.Host2, s.S2.Buffer!);
        }
        _steps = steps;
    }

    public override void Step()
    {
        _steps++;
        switch (_rule)
        {
            case Adam a:
                var ca = AdamCoefficients.At(_steps, a.LearningRate, a.Beta1, a.Beta2, a.Eps, a.DecoupledWeightDecay);
                foreach (var s in _slots)
                {
                    if (s.Rows is { } r) { if (r.Grad.Count > 0) _backend.AdamRowsStep(r.Grad.Dim, RowsOf(r), r.DeviceRows, s.W, s.S1, s.S2, ca, s.P.L2); }
                    else if (!s.G.IsEmpty) _backend.AdamStep(s.W, s.G, s.S1, s.S2, ca, s.P.L2);
                }
                break;
            case Adagrad g:
                var cg = new AdagradCoefficients(g.LearningRate, g.Eps);
                foreach (var s in _slots)
                {
                    if (s.Rows is { } r) { if (r.Grad.Count > 0) _backend.AdagradRowsStep(r.Grad.Dim, RowsOf(r), r.DeviceRows, s.W, s.S1, cg, s.P.L2); }
                    else if (!s.G.IsEmpty) _backend.AdagradStep(s.W, s.G, s.S1, cg, s.P.L2);
                }
                break;
            case Sgd d:
                var cs = new SgdCoefficients(d.LearningRate, d.Momentum, d.Nesterov);
                foreach (var s in _slots)
                {
                    if (s.Rows is { } r) { if (r.Grad.Count > 0) _backend.SgdRowsStep(r.Grad.Dim, RowsOf(r), r.DeviceRows, s.W, s.S1, cs, s.P.L2); }
                    else if (!s.G.IsEmpty) _backend.SgdStep(s.W, s.G, s.S1, cs, s.P.L2);
                }
                break;
        }
    }

    private static ReadOnlySpan<int> RowsOf(SparseRowAccumulator r) => r.Grad.Rows.AsSpan(0, r.Grad.Count);
}
