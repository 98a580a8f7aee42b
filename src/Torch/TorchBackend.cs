using System.Runtime.CompilerServices;
using CtrDsl.Backends;
using TorchSharp;
using static TorchSharp.torch;

namespace CtrDsl.Torch;

/// <summary>
/// The backend on libtorch tensors through TorchSharp: buffers are flat torch tensors on one torch device (the CPU, or
/// a CUDA device when the build references TorchSharp-cuda-linux), and every kernel is a few torch operations on views
/// of them. Our plan and autodiff stay the one IR: torch's autograd is never used (every tensor has requires_grad
/// false), so each backward kernel is written out, and like the CPU backend's it ACCUMULATES into its gradient.
/// Each op family (one interface of <see cref="IBackend"/>) lives in the partial file named after it,
/// TorchBackend.&lt;Family&gt;.cs. Single-threaded: one caller launches at a time.
/// </summary>
public sealed partial class TorchBackend : IBackend
{
    private readonly ConditionalWeakTable<TorchBuffer, object?> _buffers = new();

    private TorchBackend(Device device, string name)
    {
        TorchDevice = device;
        Name = name;
    }

    /// <summary>A backend on libtorch's CPU (<paramref name="cuda"/> null) or on CUDA device <paramref name="cuda"/>. Throws
    /// <see cref="TorchException"/> saying what to install when libtorch does not load or CUDA is absent, and the valid
    /// indices when the index is out of range.</summary>
    public static TorchBackend Create(int? cuda = null)
    {
        TorchDevices.EnsureLoaded();
        // libtorch's CPU threads follow the compute pool's (`--threads`, `training.threads`; all cores by default).
        set_num_threads(CtrDsl.Cpu.WorkerPool.ThreadCount);
        if (cuda is not int i) return new TorchBackend(CPU, "torch");
        int count = TorchDevices.CudaCount();
        if (count == 0) throw new TorchException($"torch:cuda:{i}: {TorchDevices.NoCuda}");
        if (i < 0 || i >= count)
            throw new TorchException($"torch:cuda:{i} does not exist; CUDA devices: {string.Join(", ", Enumerable.Range(0, count).Select(d => $"torch:cuda:{d}"))}");
        return new TorchBackend(new Device(DeviceType.CUDA, i), $"torch:cuda:{i}");
    }

    /// <summary>"torch" (libtorch on the CPU) or "torch:cuda:N".</summary>
    public string Name { get; }

    /// <summary>The torch device every buffer of this backend lives on.</summary>
    public Device TorchDevice { get; }

    /// <summary>The flat tensor a view covers; it shares the buffer's memory, so in-place operations write the buffer.</summary>
    internal static Tensor T(BufferView v) => ((TorchBuffer)v.Buffer!).Data.narrow(0, v.Offset, v.Length);

    /// <summary>The first numel(shape) values of a view, viewed with that shape.</summary>
    internal static Tensor T(BufferView v, params long[] shape)
    {
        long n = 1;
        foreach (var d in shape) n *= d;
        return ((TorchBuffer)v.Buffer!).Data.narrow(0, v.Offset, n).view(shape);
    }

    /// <summary>A row-major [rows; cols] matrix with leading dimension <paramref name="ld"/> starting at the view.</summary>
    internal static Tensor M(BufferView v, long rows, long cols, long ld) =>
        ((TorchBuffer)v.Buffer!).Data.as_strided([rows, cols], [ld, 1], v.Offset);

    /// <summary>Index tensors (int64) made from host values on this backend's device.</summary>
    internal Tensor Index(ReadOnlySpan<int> values)
    {
        var a = new long[values.Length];
        for (int i = 0; i < a.Length; i++) a[i] = values[i];
        return tensor(a, ScalarType.Int64).to(TorchDevice);
    }

    internal Tensor Floats(ReadOnlySpan<float> values) => tensor(values.ToArray(), ScalarType.Float32).to(TorchDevice);

    public void Dispose()
    {
        foreach (var (b, _) in _buffers) b.Dispose();
        _buffers.Clear();
        foreach (var (i, j, ij, ji) in _pairs.Values) { i.Dispose(); j.Dispose(); ij.Dispose(); ji.Dispose(); }
        _pairs.Clear();
    }
}
