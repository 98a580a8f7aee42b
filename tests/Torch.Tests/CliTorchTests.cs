using System.Text.Json;
using Xunit;

namespace CtrDsl.Torch.Tests;

/// <summary>ctr with the Torch backend in its build (as `-p:Torch=true` makes it), run in-process on the bundled Adult data.</summary>
[Collection(TorchTestDevice.Collection)]
public class CliTorchTests
{
    private static (int Code, string Out, string Err) Ctr(params string[] args)
    {
        using var out_ = new StringWriter();
        using var err = new StringWriter();
        int code = CtrDsl.Cli.Program.run(args, out_, err);
        return (code, out_.ToString(), err.ToString());
    }

    private static JsonElement Json(string text) => JsonDocument.Parse(text.Trim().Split('\n')[^1]).RootElement;

    private static string Temp() => Path.Combine(Path.GetTempPath(), $"ctrdsl-torch-cli-{Guid.NewGuid():N}");

    private static string AdultTest => Path.Combine(AppContext.BaseDirectory, "data", "adult", "adult_test.csv.gz");

    [Fact]
    public void TrainOnTorch_ThenEvalOnCpu_GivesTheTestAucOfTheTorchRun_AndOfACpuRun()
    {
        var (torchRun, cpuRun) = (Temp(), Temp());
        try
        {
            var torch = Ctr("train", "--model", "deepfm", "--device", "torch", "--epochs", "1", "--out", torchRun, "--json");
            Assert.True(torch.Code == 0, torch.Err);
            var cpu = Ctr("train", "--model", "deepfm", "--device", "cpu", "--epochs", "1", "--out", cpuRun, "--json");
            Assert.True(cpu.Code == 0, cpu.Err);
            double torchAuc = Json(torch.Out).GetProperty("metrics").GetProperty("test").GetProperty("auc").GetDouble();
            double cpuAuc = Json(cpu.Out).GetProperty("metrics").GetProperty("test").GetProperty("auc").GetDouble();
            // One epoch of the same graph from the same seed: the backends differ by float32 summation order only.
            Assert.True(Math.Abs(torchAuc - cpuAuc) <= 0.002, $"test AUC torch {torchAuc}, cpu {cpuAuc}");
            // The eval command runs on the CPU: the torch run's checkpoint is an ordinary one.
            var eval = Ctr("eval", torchRun, "--data", AdultTest, "--json");
            Assert.True(eval.Code == 0, eval.Err);
            double evalAuc = Json(eval.Out).GetProperty("metrics").GetProperty("auc").GetDouble();
            Assert.True(Math.Abs(evalAuc - torchAuc) <= 1e-6, $"eval on cpu {evalAuc}, the torch run's test {torchAuc}");
        }
        finally
        {
            foreach (var d in new[] { torchRun, cpuRun }) if (Directory.Exists(d)) Directory.Delete(d, true);
        }
    }

    [Fact]
    public void TorchCuda_WithoutCuda_IsOneLineAndAFailingExit()
    {
        var run = Temp();
        try
        {
            var r = Ctr("train", "--model", "deepfm", "--device", "torch:cuda", "--epochs", "1", "--out", run);
            Assert.NotEqual(0, r.Code);
            var line = Assert.Single(r.Err.Trim().Split('\n'));
            Assert.StartsWith("ctr: torch:cuda:0: CUDA is not available", line);
        }
        finally
        {
            if (Directory.Exists(run)) Directory.Delete(run, true);
        }
    }

    [Fact]
    public void Devices_ListsTorch_AndSaysCudaIsAbsent()
    {
        var r = Ctr("devices", "--json");
        Assert.Equal(0, r.Code);
        var torch = Json(r.Out).GetProperty("torch");
        Assert.Equal(["torch"], torch.GetProperty("devices").EnumerateArray().Select(d => d.GetString()));
        Assert.StartsWith("CUDA is not available", torch.GetProperty("note").GetString());
    }

    [Fact]
    public void DeviceGrammar_NamesTheTorchDevices()
    {
        foreach (var (text, name) in new[] { ("torch", "torch"), ("Torch:CUDA", "torch:cuda:0"), ("torch:cuda:3", "torch:cuda:3") })
        {
            var parsed = CtrDsl.Dsl.DeviceModule.parse(text);
            Assert.True(parsed.IsOk, text);
            Assert.Equal(name, CtrDsl.Dsl.DeviceModule.name(parsed.ResultValue));
        }
        foreach (var bad in new[] { "torch:", "torch:cuda:-1", "torch:gpu" })
            Assert.True(CtrDsl.Dsl.DeviceModule.parse(bad).IsError, bad);
    }
}
