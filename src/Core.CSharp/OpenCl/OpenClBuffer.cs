using CtrDsl.Backends;

namespace CtrDsl.OpenCl;

/// <summary>A device buffer in an OpenCL context.</summary>
public sealed class OpenClBuffer : DeviceBuffer, IDisposable
{
    internal OpenClBuffer(ClMem mem, long length, DType type) { Mem = mem; Length = length; Type = type; }
    internal ClMem Mem { get; }

    /// <summary>The host copy of an int32 buffer's values as last uploaded (ids: no kernel writes them), or null.</summary>
    internal int[]? HostInts { get; set; }

    public override long Length { get; }
    public override DType Type { get; }
    public void Dispose() => Mem.Dispose();
}
