namespace CtrDsl.Distributed;

/// <summary>
/// Ranks as threads of one process: <see cref="Create"/> gives one communicator per rank, each to be used by its own
/// thread. Collectives meet at a barrier, so a rank that stops calling them leaves the others waiting for at most
/// <see cref="Timeout"/>, after which they throw. Sums run in rank order, so every rank gets the same bits. It
/// checks the data-parallel arithmetic (equivalence with one process, exact metrics) without MPI.
/// </summary>
public static class LocalGroup
{
    public static TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(60);

    public static ICommunicator[] Create(int size)
    {
        if (size < 1) throw new ArgumentOutOfRangeException(nameof(size), size, "a group has at least one rank");
        var shared = new Shared(size);
        return Enumerable.Range(0, size).Select(r => (ICommunicator)new Rank(shared, r)).ToArray();
    }

    private sealed class Shared(int size)
    {
        public readonly Barrier Barrier = new(size);
        public readonly float[][] Floats = new float[size][];
        public readonly double[][] Doubles = new double[size][];
        public readonly int[][] Ints = new int[size][];
        public readonly ushort[][] Halves = new ushort[size][];
        public readonly int[][] Counts = new int[size][];
        public readonly int Size = size;

        public void Meet()
        {
            if (!Barrier.SignalAndWait(Timeout))
                throw new TimeoutException($"a rank of the local group did not reach a collective within {Timeout.TotalSeconds:0} s");
        }
    }

    private sealed class Rank(Shared shared, int rank) : ICommunicator
    {
        int ICommunicator.Rank => rank;
        public int Size => shared.Size;

        private static T[] Slot<T>(T[][] slots, int rank, int length)
        {
            if (slots[rank] is not { } a || a.Length < length) slots[rank] = a = new T[length];
            return a;
        }

        public void AllReduceSum(Span<float> data) => Sum(shared.Floats, data);
        public void AllReduceSum(Span<double> data) => Sum(shared.Doubles, data);

        private readonly int[] _equalCounts = new int[shared.Size];

        public void AllGather(ReadOnlySpan<int> mine, Span<int> all)
        {
            Array.Fill(_equalCounts, mine.Length);
            Gather(shared.Ints, mine, all, _equalCounts);
        }

        public void AllGatherV(ReadOnlySpan<float> mine, Span<float> all, ReadOnlySpan<int> counts) => Gather(shared.Floats, mine, all, counts);
        public void AllGatherV(ReadOnlySpan<int> mine, Span<int> all, ReadOnlySpan<int> counts) => Gather(shared.Ints, mine, all, counts);

        // Every rank posts its part, meets the others, reads every part in rank order, and meets them again before any
        // rank may post the next collective's part.
        private void Sum<T>(T[][] slots, Span<T> data) where T : System.Numerics.INumber<T>
        {
            data.CopyTo(Slot(slots, rank, data.Length));
            shared.Meet();
            data.Clear();
            for (int r = 0; r < shared.Size; r++)
            {
                var s = slots[r].AsSpan(0, data.Length);
                for (int i = 0; i < data.Length; i++) data[i] += s[i];
            }
            shared.Meet();
        }

        private void Gather<T>(T[][] slots, ReadOnlySpan<T> mine, Span<T> all, ReadOnlySpan<int> counts)
        {
            mine.CopyTo(Slot(slots, rank, mine.Length));
            shared.Meet();
            int at = 0;
            for (int r = 0; r < shared.Size; r++)
            {
                slots[r].AsSpan(0, counts[r]).CopyTo(all[at..]);
                at += counts[r];
            }
            shared.Meet();
        }

        public void AllToAllV(ReadOnlySpan<float> send, ReadOnlySpan<int> sendCounts, Span<float> recv, ReadOnlySpan<int> recvCounts) =>
            Exchange(shared.Floats, send, sendCounts, recv);

        public void AllToAllV(ReadOnlySpan<int> send, ReadOnlySpan<int> sendCounts, Span<int> recv, ReadOnlySpan<int> recvCounts) =>
            Exchange(shared.Ints, send, sendCounts, recv);

        // Every rank posts its whole send buffer and counts; each then copies, in rank order, the run rank r addressed
        // to it (which starts after r's runs to the ranks before this one).
        private void Exchange<T>(T[][] slots, ReadOnlySpan<T> send, ReadOnlySpan<int> sendCounts, Span<T> recv)
        {
            int total = 0;
            for (int q = 0; q < shared.Size; q++) total += sendCounts[q];
            send[..total].CopyTo(Slot(slots, rank, total));
            sendCounts[..shared.Size].CopyTo(Slot(shared.Counts, rank, shared.Size));
            shared.Meet();
            int at = 0;
            for (int r = 0; r < shared.Size; r++)
            {
                var counts = shared.Counts[r];
                int from = 0;
                for (int q = 0; q < rank; q++) from += counts[q];
                slots[r].AsSpan(from, counts[rank]).CopyTo(recv[at..]);
                at += counts[rank];
            }
            shared.Meet();
        }

        public void Barrier() => shared.Meet();

        // The non-blocking reductions complete at once (a rank meets the others inside the start), so the ranks'
        // threads stay in the lockstep of the blocking collectives and the sums are the same bits.
        public int StartAllReduceSum(Memory<float> data)
        {
            AllReduceSum(data.Span);
            return 0;
        }

        public int StartAllReduceSumBf16(Memory<ushort> data)
        {
            var span = data.Span;
            span.CopyTo(Slot(shared.Halves, rank, span.Length));
            shared.Meet();
            var first = shared.Halves[0];   // rank 0's values start every sum, taken in rank order
            for (int i = 0; i < span.Length; i++)
            {
                ushort sum = first[i];
                for (int r = 1; r < shared.Size; r++) sum = Bf16.Add(sum, shared.Halves[r][i]);
                span[i] = sum;
            }
            shared.Meet();
            return 0;
        }

        public bool Test(int request) => true;
        public void Wait(int request) { }

        public void Dispose() { }
    }
}
