using CtrDsl.Backends;

namespace CtrDsl.Cpu;

/// <summary>
/// The CPU backend: managed arrays, the blocked FMA GEMM on the worker pool, and TensorPrimitives or the shared
/// <see cref="Elementwise"/> loop for pointwise work. Each op family (one interface of <see cref="IBackend"/>) lives in
/// the partial file named after it, CpuBackend.&lt;Family&gt;.cs.
/// </summary>
public sealed unsafe partial class CpuBackend : IBackend
{
    public string Name => "cpu";

    public void Dispose() => DisposeRowPacks();

    /// <summary>The span a float view covers (empty for an absent view).</summary>
    internal static Span<float> F(BufferView v) =>
        v.Buffer is null ? default : ((CpuFloatBuffer)v.Buffer).Data.AsSpan(checked((int)v.Offset), checked((int)v.Length));

    internal static Span<int> I(BufferView v) =>
        v.Buffer is null ? default : ((CpuIntBuffer)v.Buffer).Data.AsSpan(checked((int)v.Offset), checked((int)v.Length));
}
