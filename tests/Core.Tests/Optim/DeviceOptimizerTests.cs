using CtrDsl.Autodiff;
using CtrDsl.Cpu;
using CtrDsl.Optim;
using CtrDsl.Tensors;
using CtrDsl.Tests.OpenCl;
using Xunit;

namespace CtrDsl.Tests.Optim;

public class DeviceOptimizerTests
{
    private const int Batch = 8, Vocabulary = 30, Steps = 4;

    // Trains a DeepFM-shaped graph (sparse tables with L2, dense layers) on the CPU backend and returns its parameters.
    private static (Parameter[] Parameters, Optimizer Optimizer) Train(Func<IEnumerable<Parameter>, Optimizer> rule, bool device) =>
        BackendTraining.Train(TrainingGraphs.DeepFm, new CpuBackend(), rule, resident: device,
            new BackendTraining.Setting(ModelSeed: 3, Vocabulary: Vocabulary, Batch: Batch, Steps: Steps, DataSeed: 9));

    public static TheoryData<string> Rules => new() { "adam", "adamw", "adagrad", "sgd", "sgd-nesterov" };

    private static Func<IEnumerable<Parameter>, Optimizer> Rule(string name) => name switch
    {
        "adam" => ps => new Adam(ps, 1e-2f),
        "adamw" => ps => new Adam(ps, 1e-2f, decoupledWeightDecay: 0.1f),
        "adagrad" => ps => new Adagrad(ps, 0.1f, initialAccumulator: 0.1f),
        "sgd" => ps => new Sgd(ps, 0.1f),
        _ => ps => new Sgd(ps, 0.1f, momentum: 0.9f, nesterov: true),
    };

    // On the CPU backend the device buffers are the host arrays and the step kernels the host optimizers' own.
    [Theory, MemberData(nameof(Rules))]
    public void DeviceOptimizer_OnCpu_IsBitIdenticalToTheHostRule(string rule)
    {
        var (host, hostOpt) = Train(Rule(rule), device: false);
        var (dev, devOpt) = Train(Rule(rule), device: true);
        for (int i = 0; i < host.Length; i++) Assert.True(host[i].Value.AsSpan().SequenceEqual(dev[i].Value), $"{rule}: {host[i].Name} differs");
        Assert.Equal(hostOpt.State.Keys.Order(), devOpt.State.Keys.Order());
        foreach (var (key, values) in hostOpt.State) Assert.True(values.AsSpan().SequenceEqual(devOpt.State[key]), $"{rule}: state {key} differs");
        Assert.Equal(hostOpt.Steps, devOpt.Steps);
    }

    [Fact]
    public void DeviceOptimizer_RejectsARuleWithoutDeviceKernels()
    {
        var m = TrainingGraphs.DeepFm(3, Vocabulary);
        var plan = Plan.Compile(m.Graph, new CpuBackend(), Batch, m.Loss, m.Logits);
        var e = Assert.Throws<ArgumentException>(() => new DeviceOptimizer(plan, new Ftrl(plan.Parameters)));
        Assert.Contains("Ftrl has no device kernels", e.Message);
    }
}
