using CtrDsl.Autodiff;
using CtrDsl.Backends;
using CtrDsl.Cpu;
using CtrDsl.Graph;
using CtrDsl.Init;
using CtrDsl.Ops;
using CtrDsl.Optim;
using CtrDsl.Tensors;
using Xunit;

namespace CtrDsl.Tests.OpenCl;

/// <summary>
/// A few training steps of a DeepFM-shaped and an FGCNN-shaped graph leave the same parameters on OpenCL as on the
/// CPU backend (<see cref="BackendTraining"/>).
/// </summary>
[Collection(OpenClTestDevice.Collection)]
public class OpenClTrainingTests
{
    private const int Fields = TrainingGraphs.Fields;

    private static void SameParameters(Func<ulong, int, TrainingGraphs.Model> build, Func<IEnumerable<Parameter>, Optimizer> optimizer,
        bool resident = false) => BackendTraining.SameAsCpu(OpenClTestDevice.Backend, build, optimizer, resident);

    private static Optimizer SgdMomentum(IEnumerable<Parameter> ps) => new Sgd(ps, 0.1f, momentum: 0.9f);
    private static Optimizer AdamRule(IEnumerable<Parameter> ps) => new Adam(ps, 1e-3f);
    private static Optimizer AdagradRule(IEnumerable<Parameter> ps) => new Adagrad(ps, 0.05f);

    // Host round trip: the plan copies values up and gradients down every step; the host optimizer moves them.
    // Adam divides by √v, so a gradient that is 0 up to rounding would move its weight by ±lr; the graphs have no such
    // parameter (no bias before batch norm), and the tolerance is the op tests' own.
    [OpenClFact] public void DeepFm_HostSgd_GivesTheSameParametersOnBothBackends() => SameParameters(TrainingGraphs.DeepFm, SgdMomentum);
    [OpenClFact] public void DeepFm_HostAdam_GivesTheSameParametersOnBothBackends() => SameParameters(TrainingGraphs.DeepFm, AdamRule);
    [OpenClFact] public void Fgcnn_HostAdam_GivesTheSameParametersOnBothBackends() => SameParameters(TrainingGraphs.Fgcnn, AdamRule);

    // Resident: parameters, state and gradients stay on the device; the DeviceOptimizer's kernels move them.
    [OpenClFact] public void DeepFm_ResidentSgd_MatchesHostSgdOnCpu() => SameParameters(TrainingGraphs.DeepFm, SgdMomentum, resident: true);
    [OpenClFact] public void DeepFm_ResidentAdam_MatchesHostAdamOnCpu() => SameParameters(TrainingGraphs.DeepFm, AdamRule, resident: true);
    [OpenClFact] public void DeepFm_ResidentAdagrad_MatchesHostAdagradOnCpu() => SameParameters(TrainingGraphs.DeepFm, AdagradRule, resident: true);
    [OpenClFact] public void Fgcnn_ResidentAdam_MatchesHostAdamOnCpu() => SameParameters(TrainingGraphs.Fgcnn, AdamRule, resident: true);

    [OpenClFact]
    public void ResidentStep_MovesOnlyTheBatchUp_AndNothingDown()
    {
        const int vocabulary = 50_000, batch = 64;
        var backend = OpenClTestDevice.Backend;
        var m = TrainingGraphs.DeepFm(7, vocabulary);
        var plan = Plan.Compile(m.Graph, backend, batch, m.Loss, m.Logits);
        plan.Training = true;
        var opt = new DeviceOptimizer(plan, new Adam(plan.Parameters, 1e-3f));
        var before = m.Parameters.Select(p => (float[])p.Value.Clone()).ToArray();
        var rng = new Random(5);
        var ids = new int[batch * Fields];
        var labels = new float[batch];
        long up = 0, down = 0;
        for (int s = 0; s < 3; s++)
        {
            for (int i = 0; i < ids.Length; i++) ids[i] = rng.Next(vocabulary);
            for (int i = 0; i < labels.Length; i++) labels[i] = rng.Next(2);
            (long u0, long d0) = (backend.BytesToDevice, backend.BytesToHost);
            plan.SetInput(m.Ids, ids);
            plan.SetInput(m.Label, labels);
            plan.Forward();
            plan.Backward();
            opt.Step();
            backend.Finish();
            (up, down) = (backend.BytesToDevice - u0, backend.BytesToHost - d0);
        }
        long parameterBytes = m.Parameters.Sum(p => p.Numel) * 4;
        // Up: ids and labels, and per table lookup of n ids with u unique rows the grouping lists (starts u + 1, bags n,
        // scales n, targets u) and the optimizer's touched rows (u): at most 5n + 1 ints. Never a parameter.
        long batchBytes = (ids.Length + labels.Length) * 4L, lookups = 2 * (5L * ids.Length + 1) * 4;
        Assert.True(up <= batchBytes + lookups, $"a resident step uploaded {up} bytes; batch {batchBytes} + lookups {lookups}, parameters {parameterBytes}");
        Assert.True(up * 50 < parameterBytes);
        Assert.Equal(0, down);
        // The host copies are stale until asked for: the values live on the device.
        Assert.True(m.Parameters.Select((p, i) => p.Value.AsSpan().SequenceEqual(before[i])).All(same => same));
        plan.SyncToHost();
        Assert.False(m.Parameters[0].Value.AsSpan().SequenceEqual(before[0]));
    }
}
