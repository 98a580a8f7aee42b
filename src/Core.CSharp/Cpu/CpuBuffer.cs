using CtrDsl.Backends;

namespace CtrDsl.Cpu;

/// <summary>A managed float array seen as a device buffer.</summary>
public sealed class CpuFloatBuffer(float[] data) : DeviceBuffer
{
    public float[] Data { get; } = data;
    public override long Length => Data.LongLength;
    public override DType Type => DType.Float32;
}

/// <summary>A managed int array seen as a device buffer.</summary>
public sealed class CpuIntBuffer(int[] data) : DeviceBuffer
{
    public int[] Data { get; } = data;
    public override long Length => Data.LongLength;
    public override DType Type => DType.Int32;
}
