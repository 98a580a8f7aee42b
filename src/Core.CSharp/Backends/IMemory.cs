namespace CtrDsl.Backends;

/// <summary>
/// The memory family: a backend's buffers and their copies to and from the host, with the two writes the plan and
/// the simplest ops need besides: <see cref="Fill"/> (zeroed gradients, the loss's seed gradient) and <see cref="Axpy"/>.
/// </summary>
public interface IMemory
{
    /// <summary>True when a buffer <see cref="Bind"/> makes is the host array itself (the CPU backend); false on an
    /// accelerator, where parameters and optimizer state can stay resident between steps.</summary>
    bool SharesHostMemory { get; }
    DeviceBuffer Allocate(long length, DType type);
    /// <summary>A device buffer holding a host array's values (the CPU backend shares the array itself).</summary>
    DeviceBuffer Bind(float[] host);
    /// <summary>Copies <paramref name="host"/> into the buffer <see cref="Bind"/> made from it: the optimizer moved
    /// the host values. Nothing to do where the buffer is the array itself (the CPU backend).</summary>
    void SyncFromHost(float[] host, DeviceBuffer bound);
    /// <summary>Copies a bound buffer back into its host array (gradients, running statistics, checkpoints).</summary>
    void SyncToHost(DeviceBuffer bound, float[] host);
    void Upload(ReadOnlySpan<float> source, BufferView destination);
    void Upload(ReadOnlySpan<int> source, BufferView destination);
    void Download(BufferView source, Span<float> destination);
    void Fill(BufferView y, float value);
    /// <summary>y += alpha·x.</summary>
    void Axpy(float alpha, BufferView x, BufferView y);
}
