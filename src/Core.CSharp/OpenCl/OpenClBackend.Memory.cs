using CtrDsl.Backends;

namespace CtrDsl.OpenCl;

public sealed partial class OpenClBackend
{
    public DeviceBuffer Allocate(long length, DType type)
    {
        var b = _rt.Allocate(length, type);
        _buffers.Add(b, null);
        if (length > 0) Fill(b.All, 0f); // the CPU backend's arrays start at zero; so do these
        return b;
    }

    public bool SharesHostMemory => false;

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

    public void Download(BufferView source, Span<float> destination) => _rt.Read(source, destination);

    /// <summary>Copies int32 values (ids) to the host.</summary>
    public void Download(BufferView source, Span<int> destination) => _rt.Read(source, destination);

    public void Fill(BufferView y, float value)
    {
        if (y.IsEmpty) return;
        K("fill").Buf(y).Float(value).Run(y.Length);
    }

    public void Axpy(float alpha, BufferView x, BufferView y)
    {
        if (y.IsEmpty) return;
        K("axpy").Float(alpha).Buf(x).Buf(y).Run(y.Length);
    }

    /// <summary>Bytes copied host → device so far, uploads of batches, parameters and row lists alike.</summary>
    public long BytesToDevice => _rt.BytesToDevice;

    /// <summary>Bytes copied device → host so far.</summary>
    public long BytesToHost => _rt.BytesToHost;
}
