using CtrDsl.Cpu;
using CtrDsl.OpenCl;

namespace CtrDsl.Backends;

/// <summary>
/// Picks a backend by name, as the CLI's <c>--device</c> does: <c>cpu</c>, or <c>opencl</c> / <c>opencl:N</c> for the
/// N-th OpenCL device (see <see cref="OpenClDevices.List"/>). A missing OpenCL runtime is one clear error saying what
/// to install; the CPU backend needs nothing.
/// </summary>
public static class Devices
{
    /// <summary>The backend for a device name; throws <see cref="ArgumentException"/> for a malformed name.</summary>
    public static IBackend Create(string device)
    {
        var d = device.Trim().ToLowerInvariant();
        if (d == "cpu") return new CpuBackend();
        if (d == "opencl") return OpenClBackend.Create(0);
        if (d.StartsWith("opencl:", StringComparison.Ordinal) && int.TryParse(d["opencl:".Length..], out int index) && index >= 0)
            return OpenClBackend.Create(index);
        throw new ArgumentException($"device: expected cpu, opencl or opencl:N, got \"{device}\"");
    }

    /// <summary>True for a backend whose buffers are not the host arrays (parameters can stay resident there).</summary>
    public static bool IsAccelerator(IBackend backend) => backend is not CpuBackend;
}
