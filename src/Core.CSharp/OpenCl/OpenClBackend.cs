using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using CtrDsl.Backends;

namespace CtrDsl.OpenCl;

/// <summary>
/// The OpenCL backend: device buffers, CLBlast for GEMM on the same in-order queue, and the kernels of
/// <c>OpenCl/Kernels/*.cl</c> (built once per context). Kernels for each op family live in the partial files beside
/// this one and mirror the CPU backend's semantics, including that backward kernels accumulate.
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

    public DeviceBuffer Allocate(long length, DType type)
    {
        var b = _rt.Allocate(length, type);
        _buffers.Add(b, null);
        if (length > 0) Fill(b.All, 0f); // the CPU backend's arrays start at zero; so do these
        return b;
    }

    public DeviceBuffer Bind(float[] host)
    {
        var b = Allocate(host.LongLength, DType.Float32);
        _rt.Write<float>(host, b.All);
        return b;
    }

    public void SyncFromHost(float[] host, DeviceBuffer bound) => _rt.Write<float>(host, bound.All);
    public void SyncToHost(DeviceBuffer bound, float[] host) => _rt.Read<float>(bound.All, host);

    public void Upload(ReadOnlySpan<float> source, BufferView destination) => _rt.Write(source, destination);
    // The host keeps what it uploads to an int buffer, so the embedding backward groups ids without reading them back.
    public void Upload(ReadOnlySpan<int> source, BufferView destination)
    {
        _rt.Write(source, destination);
        var b = (OpenClBuffer)destination.Buffer!;
        b.HostInts ??= new int[b.Length];
        source.CopyTo(b.HostInts.AsSpan(checked((int)destination.Offset)));
    }

    /// <summary>Bytes copied host → device so far, uploads of batches, parameters and row lists alike.</summary>
    public long BytesToDevice => _rt.BytesToDevice;

    /// <summary>Bytes copied device → host so far.</summary>
    public long BytesToHost => _rt.BytesToHost;
    public void Download(BufferView source, Span<float> destination) => _rt.Read(source, destination);

    /// <summary>Copies int32 values (ids) to the host.</summary>
    public void Download(BufferView source, Span<int> destination) => _rt.Read(source, destination);

    /// <summary>Waits until every queued command has run.</summary>
    public void Finish() => _rt.Finish();

    public void Fill(BufferView y, float value)
    {
        if (y.IsEmpty) return;
        K("fill").Buf(y).Float(value).Run(y.Length);
    }

    public void CopyRows(int rows, int width, BufferView x, int xStride, BufferView y, int yStride, bool accumulate)
    {
        if (y.IsEmpty || width == 0) return;
        K("copy_rows").Int(width).Buf(x).Int(xStride).Buf(y).Int(yStride).Int(accumulate ? 1 : 0).Run((long)rows * width);
    }

    public void Axpy(float alpha, BufferView x, BufferView y)
    {
        if (y.IsEmpty) return;
        K("axpy").Float(alpha).Buf(x).Buf(y).Run(y.Length);
    }

    private KernelCall K(string name) => _rt.Kernel(name);

    public void Dispose()
    {
        foreach (var (b, _) in _buffers) b.Dispose();
        _buffers.Clear();
        _rt.Dispose();
    }
}
