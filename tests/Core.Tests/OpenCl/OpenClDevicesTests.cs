using CtrDsl.Backends;
using CtrDsl.OpenCl;
using Xunit;

namespace CtrDsl.Tests.OpenCl;

[Collection(OpenClTestDevice.Collection)]
public class OpenClDevicesTests
{
    [OpenClFact]
    public void List_DescribesEveryDevice()
    {
        var devices = OpenClDevices.List();
        Assert.NotEmpty(devices);
        Assert.All(devices, d =>
        {
            Assert.False(string.IsNullOrEmpty(d.Platform));
            Assert.False(string.IsNullOrEmpty(d.Name));
            Assert.True(d.ComputeUnits > 0 && d.GlobalMemoryBytes > 0, d.ToString());
        });
        Assert.Equal(Enumerable.Range(0, devices.Count), devices.Select(d => d.Index));
    }

    [OpenClFact]
    public void Create_WithAnIndexOutOfRange_NamesTheDevicesThatExist()
    {
        var e = Assert.Throws<OpenClException>(() => OpenClBackend.Create(OpenClDevices.List().Count));
        Assert.Contains("does not exist", e.Message);
        Assert.Contains(OpenClDevices.List()[0].Name, e.Message);
    }

    [OpenClFact]
    public void AKernelThatDoesNotCompile_ThrowsWithTheBuildLog()
    {
        var e = Assert.Throws<OpenClException>(() => new OpenClRuntime(OpenClDevices.List()[0], "kernel void broken(global float* x) { x[0] = undeclared; }"));
        Assert.Contains("building the OpenCL kernels", e.Message);
        Assert.Contains("undeclared", e.Message);
    }

    [OpenClFact]
    public void ABackend_RoundTripsBuffers_AndDisposesCleanly()
    {
        using var backend = OpenClBackend.Create(0);
        var b = backend.Allocate(5, DType.Float32);
        backend.Upload([1f, 2f, 3f, 4f, 5f], b.All);
        backend.Axpy(2f, b.All.Slice(0, 2), b.All.Slice(3, 2));
        var got = new float[5];
        backend.Download(b.All, got);
        Assert.Equal([1f, 2f, 3f, 6f, 9f], got);
    }
}
