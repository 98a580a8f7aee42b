using CtrDsl.Autodiff;
using CtrDsl.Cpu;
using CtrDsl.Optim;
using CtrDsl.Tests.OpenCl;
using CtrDsl.Training;
using Xunit;

namespace CtrDsl.Torch.Tests;

/// <summary>A model trained on the Torch backend (resident Adam) and saved is the same model on the CPU backend: the
/// checkpoint holds no backend, so its logits and optimizer state come back within the op tests' tolerance.</summary>
[Collection(TorchTestDevice.Collection)]
public class CheckpointRoundTripTests
{
    private const int Vocabulary = 40, Batch = 16;

    private static float[] Logits(Plan plan, TrainingGraphs.Model m, int[] ids)
    {
        plan.Training = false;
        plan.SetInput(m.Ids, ids);
        plan.SetInput(m.Label, new float[Batch]);
        plan.Forward();
        var y = new float[Batch];
        plan.Read(m.Logits, y);
        return y;
    }

    [Fact]
    public void TrainOnTorch_EvaluateOnCpu_GivesTheSameLogits()
    {
        var rng = new Random(21);
        int[] Ids() => Enumerable.Range(0, Batch * TrainingGraphs.Fields).Select(_ => rng.Next(Vocabulary)).ToArray();
        var m = TrainingGraphs.DeepFm(7, Vocabulary);
        var plan = Plan.Compile(m.Graph, TorchTestDevice.Backend, Batch, m.Loss, m.Logits);
        plan.Training = true;
        var opt = new DeviceOptimizer(plan, new Adam(plan.Parameters, 1e-2f));
        for (int s = 0; s < 4; s++)
        {
            plan.SetInput(m.Ids, Ids());
            plan.SetInput(m.Label, Enumerable.Range(0, Batch).Select(_ => (float)rng.Next(2)).ToArray());
            plan.Forward();
            plan.Backward();
            opt.Step();
        }
        var eval = Ids();
        var torchLogits = Logits(plan, m, eval);
        plan.SyncToHost();
        var file = Path.Combine(Path.GetTempPath(), $"ctrdsl-torch-{Guid.NewGuid():N}.ckpt");
        try
        {
            Checkpoint.Capture(new Dictionary<string, string>(), [], m.Parameters, opt, plan.Step).Save(file);

            var cpuModel = TrainingGraphs.DeepFm(99, Vocabulary); // other initial values, all overwritten by the restore
            var saved = Checkpoint.Load(file);
            saved.RestoreParameters(cpuModel.Parameters, file);
            var cpuPlan = Plan.Compile(cpuModel.Graph, new CpuBackend(), Batch, cpuModel.Loss, cpuModel.Logits);
            Equivalence.Compare("logits of the restored model", torchLogits, Logits(cpuPlan, cpuModel, eval), Equivalence.Rtol, Equivalence.Atol);

            var hostAdam = new Adam(cpuModel.Parameters, 1e-2f);
            saved.RestoreOptimizer(hostAdam, file);
            Assert.Equal(opt.Steps, hostAdam.Steps);
            foreach (var (key, values) in opt.State)
                Assert.True(values.AsSpan().SequenceEqual(hostAdam.State[key]), $"optimizer state {key} changed in the round trip");
        }
        finally
        {
            File.Delete(file);
        }
    }
}
