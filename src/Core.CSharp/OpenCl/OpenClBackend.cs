using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using CtrDsl.Backends;

namespace CtrDsl.OpenCl;

/// <summary>
/// The OpenCL backend: device buffers, CLBlast for GEMM on the same in-order queue, and the kernels of
/// <c>OpenCl/Kernels/*.cl</c> (built once per context). Each op family (one interface of <see cref="IBackend"/>) lives
/// in the partial file named after it, OpenClBackend.&lt;Family&gt;.cs, with its kernels in Kernels/&lt;family&gt;.cl, and
/// mirrors the CPU backend's semantics, including that backward kernels accumulate.
/// Single-threaded: one caller launches at a time.
/// </summary>
public sealed partial class OpenClBackend : IBackend
{
    private readonly OpenClRuntime _rt;
    // Weakly held: a buffer no plan references any more is released by its SafeHandle's finalizer; Dispose releases
    // the ones still alive.
    private readonly ConditionalWeakTable<OpenClBuffer, object?> _buffers = new();

    private OpenClBackend(OpenClRuntime runtime) => _rt = runtime;

    /// <summary>
    /// A backend on device <paramref name="deviceIndex"/> of <see cref="OpenClDevices.List"/>. Throws
    /// <see cref="OpenClException"/> with what to install when there is no OpenCL runtime or no CLBlast, and with the valid
    /// indices when the index is out of range.
    /// </summary>
    public static OpenClBackend Create(int deviceIndex = 0)
    {
        var devices = OpenClDevices.List();
        if (devices.Count == 0) throw new OpenClException(OpenClDevices.InstallHint);
        if (!NativeLibrary.TryLoad("libclblast.so.1", out var blast))
            throw new OpenClException($"libclblast.so.1 (CLBlast, the OpenCL GEMM) is missing: `apt-get install libclblast1`; {OpenClDevices.InstallHint}");
        NativeLibrary.Free(blast);
        if ((uint)deviceIndex >= (uint)devices.Count)
            throw new OpenClException($"OpenCL device {deviceIndex} does not exist; devices: {string.Join("; ", devices)}");
        return new OpenClBackend(new OpenClRuntime(devices[deviceIndex]));
    }

    public string Name => $"opencl:{Device.Index}";

    /// <summary>The device this backend runs on.</summary>
    public OpenClDevice Device => _rt.Device;

    /// <summary>Waits until every queued command has run.</summary>
    public void Finish() => _rt.Finish();

    private KernelCall K(string name) => _rt.Kernel(name);

    public void Dispose()
    {
        foreach (var (b, _) in _buffers) b.Dispose();
        _buffers.Clear();
        _rt.Dispose();
    }
}
