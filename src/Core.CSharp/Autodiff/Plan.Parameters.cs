using CtrDsl.Backends;
using CtrDsl.Tensors;

namespace CtrDsl.Autodiff;

// The parameters a plan reads: where their values and gradients live on the device, and whether the device copy or the
// host copy is the truth between steps.
public sealed partial class Plan
{
    /// <summary>
    /// Whether parameters stay on the device between steps. False (the default): <see cref="Parameter.Value"/> on the
    /// host is the truth, a host optimizer updates it, and every step copies values up and gradients down (free on the
    /// CPU backend, whose buffers are the host arrays). True: the device buffers are the truth and a
    /// <see cref="Optim.DeviceOptimizer"/> updates them in place, so a step moves only its batch up (and what the caller
    /// reads down); sparse row gradients are summed into <see cref="SparseRowAccumulator.DeviceRows"/>. Use
    /// <see cref="SyncToHost"/> before reading <see cref="Parameter.Value"/> (checkpoints) and <see cref="SyncFromHost"/>
    /// after writing it. Set by the DeviceOptimizer that owns the parameters.
    /// </summary>
    public bool Resident
    {
        get => _resident;
        set
        {
            if (value == _resident) return;
            if (value)
                foreach (var acc in _sparse)
                    if (acc.DeviceRows.IsEmpty) acc.DeviceRows = _backend.Bind(acc.Grad.Values).All;
            _resident = value;
        }
    }

    private bool _resident;

    /// <summary>Copies every parameter's device values to <see cref="Parameter.Value"/> (a no-op on the CPU backend).</summary>
    public void SyncToHost()
    {
        foreach (var b in _bound) _backend.SyncToHost(b.Value, b.Parameter.Value);
    }

    /// <summary>Copies every <see cref="Parameter.Value"/> to the device (after loading a checkpoint into the host arrays).</summary>
    public void SyncFromHost()
    {
        foreach (var b in _bound) _backend.SyncFromHost(b.Parameter.Value, b.Value);
    }

    /// <summary>The device value buffer of a parameter the plan reads.</summary>
    public BufferView ValueOf(Parameter p) => Find(p).Value.All;

    /// <summary>The device dense-gradient buffer of a parameter, empty for a sparse table or one without a gradient.</summary>
    public BufferView GradOf(Parameter p) => Find(p).Grad is { } g ? g.All : default;

    /// <summary>The row-sparse gradient accumulator of a sparse table, or null.</summary>
    public SparseRowAccumulator? SparseOf(Parameter p) => _sparse.FirstOrDefault(a => ReferenceEquals(a.Table, p));

    private Bound Find(Parameter p)
    {
        foreach (var b in _bound) if (ReferenceEquals(b.Parameter, p)) return b;
        throw new ArgumentException($"{p} is not read by this plan");
    }
}
