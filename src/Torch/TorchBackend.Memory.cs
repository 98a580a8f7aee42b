using CtrDsl.Backends;
using TorchSharp;
using static TorchSharp.torch;

namespace CtrDsl.Torch;

public sealed partial class TorchBackend
{
    // Buffers outlive every kernel's dispose scope: they are detached from it and released by the backend.
    public DeviceBuffer Allocate(long length, DType type)
    {
        var data = zeros([length], type == DType.Float32 ? ScalarType.Float32 : ScalarType.Int32, TorchDevice);
        data.DetachFromDisposeScope();
        var b = new TorchBuffer(data, type);
        _buffers.Add(b, null);
        return b;
    }

    // Device tensors on CUDA; on libtorch's CPU the buffers are still torch's own memory, not the host arrays.
    public bool SharesHostMemory => false;

    public DeviceBuffer Bind(float[] host)
    {
        var b = Allocate(host.LongLength, DType.Float32);
        SyncFromHost(host, b);
        return b;
    }

    public void SyncFromHost(float[] host, DeviceBuffer bound) => Upload(host, bound.All);

    public void SyncToHost(DeviceBuffer bound, float[] host) => Download(bound.All, host);

    public void Upload(ReadOnlySpan<float> source, BufferView destination)
    {
        if (destination.IsEmpty || source.Length == 0) return;
        using var scope = NewDisposeScope();
        T(destination).narrow(0, 0, source.Length).copy_(tensor(source.ToArray(), ScalarType.Float32));
    }

    // The host keeps what it uploads to an int buffer, so the embedding backward groups ids without reading them back.
    public void Upload(ReadOnlySpan<int> source, BufferView destination)
    {
        if (destination.IsEmpty || source.Length == 0) return;
        using (NewDisposeScope())
            T(destination).narrow(0, 0, source.Length).copy_(tensor(source.ToArray(), ScalarType.Int32));
        var b = (TorchBuffer)destination.Buffer!;
        b.HostInts ??= new int[b.Length];
        source.CopyTo(b.HostInts.AsSpan(checked((int)destination.Offset)));
    }

    public void Download(BufferView source, Span<float> destination)
    {
        if (source.IsEmpty || destination.Length == 0) return;
        using var scope = NewDisposeScope();
        var host = T(source).narrow(0, 0, destination.Length).cpu().contiguous();
        host.data<float>().CopyTo(destination);
    }

    /// <summary>Copies int32 values (ids) to the host.</summary>
    public void Download(BufferView source, Span<int> destination)
    {
        if (source.IsEmpty || destination.Length == 0) return;
        using var scope = NewDisposeScope();
        T(source).narrow(0, 0, destination.Length).cpu().contiguous().data<int>().CopyTo(destination);
    }

    public void Fill(BufferView y, float value)
    {
        if (y.IsEmpty || y.Length == 0) return;
        using var scope = NewDisposeScope();
        T(y).fill_(value);
    }

    public void Axpy(float alpha, BufferView x, BufferView y)
    {
        if (y.IsEmpty || y.Length == 0) return;
        using var scope = NewDisposeScope();
        T(y).add_(T(x), alpha);
    }
}
