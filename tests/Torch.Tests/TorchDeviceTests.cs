using CtrDsl.Backends;
using Xunit;

namespace CtrDsl.Torch.Tests;

public class TorchDeviceTests
{
    [Fact]
    public void Create_WithoutCuda_SaysWhatToInstall()
    {
        // This build carries libtorch for the CPU only, so no CUDA device can answer here.
        Assert.Equal(0, TorchDevices.CudaCount());
        var e = Assert.Throws<TorchException>(() => TorchBackend.Create(0));
        Assert.StartsWith("torch:cuda:0: CUDA is not available", e.Message);
        Assert.Contains("TorchSharp-cuda-linux", e.Message);
        Assert.Contains("docs/gpu.md", e.Message);
    }

    [Fact]
    public void List_HasTheCpuDeviceFirst() => Assert.Equal("torch", TorchDevices.List()[0]);

    [Fact]
    public void Backend_OnTheCpu_IsNamedTorch_AndKeepsItsOwnMemory()
    {
        using var b = TorchBackend.Create();
        Assert.Equal("torch", b.Name);
        Assert.False(b.SharesHostMemory);
        var host = new float[] { 1, 2, 3 };
        var bound = b.Bind(host);
        host[0] = 9;
        var back = new float[3];
        b.SyncToHost(bound, back);
        Assert.Equal([1f, 2f, 3f], back);
    }

    [Fact]
    public void Views_StartInsideTheirBuffer()
    {
        using var b = TorchBackend.Create();
        var buf = b.Allocate(6, DType.Float32);
        b.Upload([1f, 2f, 3f, 4f, 5f, 6f], buf.All);
        b.Axpy(10f, buf.All.Slice(0, 2), buf.All.Slice(4, 2));
        b.Fill(buf.All.Slice(1, 1), -1f);
        var back = new float[6];
        b.Download(buf.All, back);
        Assert.Equal([1f, -1f, 3f, 4f, 15f, 26f], back);
    }
}
