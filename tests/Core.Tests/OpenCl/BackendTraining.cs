using CtrDsl.Autodiff;
using CtrDsl.Backends;
using CtrDsl.Cpu;
using CtrDsl.Optim;
using CtrDsl.Tensors;
using Xunit;

namespace CtrDsl.Tests.OpenCl;

/// <summary>
/// The training check that every device backend passes: a few steps of a <see cref="TrainingGraphs"/> model on the
/// candidate leave the same parameters (and, where asked, the same optimizer state) as the host optimizer on the CPU
/// backend, within the op tests' tolerance <see cref="Equivalence.Rtol"/> + <see cref="Equivalence.Atol"/>. Each
/// backend gets its own parameters, initialised alike, and the same batches.
/// </summary>
public static class BackendTraining
{
    /// <summary>How a check trains: the model's initialisation seed, its id range, the batch, the steps and the seed
    /// of the random batches.</summary>
    public sealed record Setting(ulong ModelSeed = 7, int Vocabulary = 40, int Batch = 16, int Steps = 3, int DataSeed = 3);

    private static readonly Setting Default = new();

    /// <summary>Resident: parameters, optimizer state and gradients stay on the device, moved by a
    /// <see cref="DeviceOptimizer"/>; otherwise the plan copies values up and gradients down every step and the host
    /// optimizer moves them.</summary>
    public static (Parameter[] Parameters, Optimizer Optimizer) Train(Func<ulong, int, TrainingGraphs.Model> build, IBackend backend,
        Func<IEnumerable<Parameter>, Optimizer> rule, bool resident, Setting? setting = null)
    {
        var (modelSeed, vocabulary, batch, steps, dataSeed) = setting ?? Default;
        var m = build(modelSeed, vocabulary);
        var plan = Plan.Compile(m.Graph, backend, batch, m.Loss, m.Logits);
        plan.Training = true;
        plan.Seed = 11;
        var opt = resident ? new DeviceOptimizer(plan, rule(plan.Parameters)) : rule(plan.Parameters);
        var rng = new Random(dataSeed);
        var ids = new int[batch * TrainingGraphs.Fields];
        var labels = new float[batch];
        for (int s = 0; s < steps; s++)
        {
            for (int i = 0; i < ids.Length; i++) ids[i] = rng.Next(vocabulary);
            for (int i = 0; i < labels.Length; i++) labels[i] = rng.Next(2);
            plan.SetInput(m.Ids, ids);
            plan.SetInput(m.Label, labels);
            plan.Forward();
            plan.Backward();
            opt.Step();
        }
        if (resident) plan.SyncToHost();
        return (m.Parameters, opt);
    }

    /// <summary>The candidate against the host <paramref name="rule"/> on the CPU backend, which is always the
    /// reference; <paramref name="compareState"/> compares the optimizers' state as well.</summary>
    public static void SameAsCpu(IBackend candidate, Func<ulong, int, TrainingGraphs.Model> build,
        Func<IEnumerable<Parameter>, Optimizer> rule, bool resident, bool compareState = false)
    {
        var (cpu, cpuOpt) = Train(build, new CpuBackend(), rule, resident: false);
        var (other, otherOpt) = Train(build, candidate, rule, resident);
        for (int i = 0; i < cpu.Length; i++)
            Equivalence.Compare($"{cpu[i].Name} after {Default.Steps} steps", cpu[i].Value, other[i].Value, Equivalence.Rtol, Equivalence.Atol);
        if (!compareState) return;
        Assert.Equal(cpuOpt.State.Keys.Order(), otherOpt.State.Keys.Order());
        foreach (var (key, values) in cpuOpt.State)
            Equivalence.Compare($"optimizer state {key} after {Default.Steps} steps", values, otherOpt.State[key], Equivalence.Rtol, Equivalence.Atol);
    }
}
