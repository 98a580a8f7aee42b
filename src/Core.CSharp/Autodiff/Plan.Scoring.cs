using CtrDsl.Backends;
using CtrDsl.Graph;

namespace CtrDsl.Autodiff;

// Scoring beside training: a forward-only plan in the training plan's arena, and the largest batch whose buffers fit.
public sealed partial class Plan
{
    /// <summary>
    /// A forward-only plan for scoring beside <paramref name="training"/>, on its backend, that lays its buffers out in
    /// the training plan's arena: it holds nothing between training steps, so scoring a validation or test split in
    /// between costs no memory of its own. Scores at most <paramref name="wantedBatch"/> rows per pass: the most, halving
    /// from there, whose buffers fit that arena, and never fewer than the training batch (the training plan's own
    /// values at that batch fit, so a forward-only plan nearly always does too).
    /// Use the two plans alternately: never run the scoring plan between a training plan's Forward and Backward.
    /// </summary>
    public static Plan CompileForScoring(ExprGraph graph, Plan training, int wantedBatch, params Node[] outputs)
    {
        long room = training._scratch.Where(b => b.Type == DType.Float32).Select(b => b.Length * 4).DefaultIfEmpty(0).Max();
        int batch = Math.Max(ScoringBatch(graph, wantedBatch, room, outputs), Math.Min(wantedBatch, training.MaxBatch));
        return Compile(graph, training._backend, batch, null, training._scratch, outputs);
    }

    /// <summary>
    /// The largest scoring batch, <paramref name="wanted"/> halved as often as needed, whose forward-only plan needs at
    /// most <paramref name="budgetBytes"/> of buffers (estimated from a one-row plan, since every value scales with the
    /// batch). FGCNN's [16384; 9870] pair products alone are 617 MiB.
    /// </summary>
    public static int ScoringBatch(ExprGraph graph, int wanted, long budgetBytes, params Node[] outputs)
    {
        if (wanted < 1) throw new ArgumentOutOfRangeException(nameof(wanted), "batch size must be at least 1");
        long perRow = Math.Max(1, Compile(graph, null, new Measure(), 1, null, [], outputs).AllocatedBytes);
        int batch = wanted;
        while (batch > 1 && perRow * batch > budgetBytes) batch /= 2;
        return batch;
    }

    /// <summary>
    /// The memory of a plan compiled only to be measured: its buffers have a length and hold nothing, and binding a
    /// parameter copies nothing (a real backend's Bind may copy a whole embedding table to the device). It remembers
    /// the longest buffer asked for.
    /// </summary>
    private sealed class Measure : IMemory
    {
        public long Longest { get; private set; }

        private sealed class Buffer(long length, DType type) : DeviceBuffer
        {
            public override long Length => length;
            public override DType Type => type;
        }

        public bool SharesHostMemory => false;
        public DeviceBuffer Allocate(long length, DType type)
        {
            Longest = Math.Max(Longest, length);
            return new Buffer(length, type);
        }
        public DeviceBuffer Bind(float[] host) => new Buffer(host.LongLength, DType.Float32);
        public void SyncFromHost(float[] host, DeviceBuffer bound) => throw NoData();
        public void SyncToHost(DeviceBuffer bound, float[] host) => throw NoData();
        public void Upload(ReadOnlySpan<float> source, BufferView destination) => throw NoData();
        public void Upload(ReadOnlySpan<int> source, BufferView destination) => throw NoData();
        public void Download(BufferView source, Span<float> destination) => throw NoData();
        public void Fill(BufferView y, float value) => throw NoData();
        public void Axpy(float alpha, BufferView x, BufferView y) => throw NoData();

        private static InvalidOperationException NoData() => new("a plan compiled to be measured holds no data");
    }
}
