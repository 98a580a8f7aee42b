using CtrDsl.Backends;
using TorchSharp;

namespace CtrDsl.Torch;

/// <summary>A backend buffer: one flat torch tensor (float32 or int32) on the backend's torch device. A view
/// (buffer, offset, length) is <c>Data.narrow(0, offset, length)</c>, which shares its memory.</summary>
public sealed class TorchBuffer : DeviceBuffer, IDisposable
{
    internal TorchBuffer(torch.Tensor data, DType type) { Data = data; Type = type; Length = data.shape[0]; }

    internal torch.Tensor Data { get; }

    /// <summary>The host copy of an int32 buffer's values as last uploaded (ids: no kernel writes them), or null.
    /// The embedding backward groups ids by row on the host from it, as the OpenCL backend does.</summary>
    internal int[]? HostInts { get; set; }

    public override long Length { get; }
    public override DType Type { get; }
    public void Dispose() => Data.Dispose();
}
