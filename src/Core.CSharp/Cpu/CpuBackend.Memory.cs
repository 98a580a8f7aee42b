using System.Numerics.Tensors;
using CtrDsl.Backends;

namespace CtrDsl.Cpu;

public sealed unsafe partial class CpuBackend
{
    public DeviceBuffer Allocate(long length, DType type) =>
        type == DType.Float32 ? new CpuFloatBuffer(new float[length]) : new CpuIntBuffer(new int[length]);

    public bool SharesHostMemory => true;

    public DeviceBuffer Bind(float[] host) => new CpuFloatBuffer(host);

    public void Upload(ReadOnlySpan<float> source, BufferView destination) => source.CopyTo(F(destination));
    public void Upload(ReadOnlySpan<int> source, BufferView destination) => source.CopyTo(I(destination));
    public void Download(BufferView source, Span<float> destination) => F(source).CopyTo(destination);

    // A bound buffer shares its host array, so both directions are no-ops unless handed a different array.
    public void SyncFromHost(float[] host, DeviceBuffer bound)
    {
        var data = ((CpuFloatBuffer)bound).Data;
        if (!ReferenceEquals(data, host)) host.CopyTo(data, 0);
    }

    public void SyncToHost(DeviceBuffer bound, float[] host)
    {
        var data = ((CpuFloatBuffer)bound).Data;
        if (!ReferenceEquals(data, host)) data.CopyTo(host, 0);
    }

    public void Fill(BufferView y, float value)
    {
        var ys = F(y);
        fixed (float* p = ys)
        {
            var job = new FillJob { Y = p, Length = ys.Length, Value = value };
            ElementChunks.For(ElementChunks.Count(ys.Length), ys.Length, ref job);
        }
    }

    private struct FillJob : IParallelJob
    {
        public float* Y;
        public int Length;
        public float Value;

        public readonly void Run(int chunk)
        {
            long start = (long)chunk * ElementChunks.Size;
            new Span<float>(Y + start, (int)Math.Min(ElementChunks.Size, Length - start)).Fill(Value);
        }
    }

    public void Axpy(float alpha, BufferView x, BufferView y)
    {
        if (y.IsEmpty) return;
        var ys = F(y);
        TensorPrimitives.MultiplyAdd(F(x), alpha, ys, ys);
    }
}
