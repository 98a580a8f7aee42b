using CtrDsl.Autodiff;
using CtrDsl.Backends;
using CtrDsl.Cpu;
using CtrDsl.Optim;
using CtrDsl.Tensors;
using CtrDsl.Tests.OpenCl;
using Xunit;

namespace CtrDsl.Torch.Tests;

/// <summary>
/// A few training steps of the DeepFM- and FGCNN-shaped graphs of the OpenCL tests leave the same parameters, and the
/// same optimizer state, on the Torch backend as the host optimizers on the CPU backend, within the op tests'
/// tolerance <see cref="Equivalence.Rtol"/> + <see cref="Equivalence.Atol"/>.
/// </summary>
[Collection(TorchTestDevice.Collection)]
public class TorchTrainingTests
{
    private const int Fields = TrainingGraphs.Fields, Vocabulary = 40, Batch = 16, Steps = 3;

    private static (Parameter[] Parameters, Optimizer Optimizer) Train(Func<ulong, int, TrainingGraphs.Model> build, IBackend backend,
        Func<IEnumerable<Parameter>, Optimizer> rule, bool resident)
    {
        var m = build(7, Vocabulary);
        var plan = Plan.Compile(m.Graph, backend, Batch, m.Loss, m.Logits);
        plan.Training = true;
        plan.Seed = 11;
        var opt = resident ? new DeviceOptimizer(plan, rule(plan.Parameters)) : rule(plan.Parameters);
        var rng = new Random(3);
        var ids = new int[Batch * Fields];
        var labels = new float[Batch];
        for (int s = 0; s < Steps; s++)
        {
            for (int i = 0; i < ids.Length; i++) ids[i] = rng.Next(Vocabulary);
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

    // The reference is always the host optimizer on the CPU backend.
    private static void Same(Func<ulong, int, TrainingGraphs.Model> build, Func<IEnumerable<Parameter>, Optimizer> rule, bool resident)
    {
        var (cpu, cpuOpt) = Train(build, new CpuBackend(), rule, resident: false);
        var (torch, torchOpt) = Train(build, TorchTestDevice.Backend, rule, resident);
        for (int i = 0; i < cpu.Length; i++)
            Equivalence.Compare($"{cpu[i].Name} after {Steps} steps", cpu[i].Value, torch[i].Value, Equivalence.Rtol, Equivalence.Atol);
        Assert.Equal(cpuOpt.State.Keys.Order(), torchOpt.State.Keys.Order());
        foreach (var (key, values) in cpuOpt.State)
            Equivalence.Compare($"optimizer state {key} after {Steps} steps", values, torchOpt.State[key], Equivalence.Rtol, Equivalence.Atol);
    }

    public static TheoryData<string> Rules => new() { "adam", "adamw", "adagrad", "sgd", "sgd-momentum", "sgd-nesterov" };

    private static Func<IEnumerable<Parameter>, Optimizer> Rule(string name) => name switch
    {
        "adam" => ps => new Adam(ps, 1e-3f),
        "adamw" => ps => new Adam(ps, 1e-3f, decoupledWeightDecay: 0.1f),
        "adagrad" => ps => new Adagrad(ps, 0.05f, initialAccumulator: 0.1f),
        "sgd" => ps => new Sgd(ps, 0.1f),
        "sgd-momentum" => ps => new Sgd(ps, 0.1f, momentum: 0.9f),
        _ => ps => new Sgd(ps, 0.1f, momentum: 0.9f, nesterov: true),
    };

    // Host round trip: the plan copies values up and gradients down every step; the host optimizer moves them.
    [Theory, MemberData(nameof(Rules))]
    public void DeepFm_HostRule_GivesTheSameParametersAsCpu(string rule) => Same(TrainingGraphs.DeepFm, Rule(rule), resident: false);

    // Resident: parameters, optimizer state and gradients stay in torch tensors; the optimizer family moves them in place
    // (the lazy row-sparse updates for the embedding tables).
    [Theory, MemberData(nameof(Rules))]
    public void DeepFm_ResidentRule_MatchesTheHostRuleOnCpu(string rule) => Same(TrainingGraphs.DeepFm, Rule(rule), resident: true);

    [Fact] public void Fgcnn_HostAdam_GivesTheSameParametersAsCpu() => Same(TrainingGraphs.Fgcnn, Rule("adam"), resident: false);
    [Fact] public void Fgcnn_ResidentAdam_MatchesHostAdamOnCpu() => Same(TrainingGraphs.Fgcnn, Rule("adam"), resident: true);
}
