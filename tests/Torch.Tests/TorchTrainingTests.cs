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
/// same optimizer state, on the Torch backend as the host optimizers on the CPU backend (<see cref="BackendTraining"/>).
/// </summary>
[Collection(TorchTestDevice.Collection)]
public class TorchTrainingTests
{
    private static void Same(Func<ulong, int, TrainingGraphs.Model> build, Func<IEnumerable<Parameter>, Optimizer> rule, bool resident) =>
        BackendTraining.SameAsCpu(TorchTestDevice.Backend, build, rule, resident, compareState: true);

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
