namespace CtrDsl.Backends;

/// <summary>Element type of a device buffer: float32 values or int32 ids.</summary>
public enum DType { Float32, Int32 }

/// <summary>Memory owned by a backend. The CPU backend holds managed arrays; a GPU backend holds device memory.</summary>
public abstract class DeviceBuffer
{
    public abstract long Length { get; }
    public abstract DType Type { get; }
    public BufferView All => new(this, 0, Length);
}

/// <summary>A contiguous window of a buffer. A default view (no buffer) means "absent", e.g. no gradient wanted.</summary>
public readonly record struct BufferView(DeviceBuffer? Buffer, long Offset, long Length)
{
    public bool IsEmpty => Buffer is null;

    public BufferView Slice(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset + length > Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"slice [{offset}, {offset + length}) outside a view of length {Length}");
        return new(Buffer, Offset + offset, length);
    }

    public BufferView Take(long length) => Slice(0, length);
}
