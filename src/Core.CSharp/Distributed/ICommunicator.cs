namespace CtrDsl.Distributed;

/// <summary>
/// The collectives data-parallel training uses, over a fixed group of <see cref="Size"/> processes (ranks). Every
/// rank calls the same collectives in the same order with matching sizes; a call returns when every rank has made
/// it. Sums are taken in rank order where the implementation controls the order, so repeated runs agree bit for bit.
/// <see cref="MpiCommunicator"/> is the one for processes started by <c>mpiexec</c>; <see cref="LocalGroup"/> runs
/// the ranks as threads of one process (tests, and a check of the arithmetic without MPI).
/// </summary>
public interface ICommunicator : IDisposable
{
    int Rank { get; }
    int Size { get; }

    /// <summary>data ← Σ over ranks of data, element-wise, in place.</summary>
    void AllReduceSum(Span<float> data);

    /// <summary>data ← Σ over ranks of data, element-wise, in place.</summary>
    void AllReduceSum(Span<double> data);

    /// <summary>all[r·n .. (r+1)·n) ← rank r's <paramref name="mine"/> (n = mine.Length, the same on every rank).</summary>
    void AllGather(ReadOnlySpan<int> mine, Span<int> all);

    /// <summary>Rank r's <paramref name="mine"/> (counts[r] values) lands at all[Σ_{q&lt;r} counts[q] ..]. Every rank
    /// passes the same counts.</summary>
    void AllGatherV(ReadOnlySpan<float> mine, Span<float> all, ReadOnlySpan<int> counts);

    /// <summary>As the float overload, for ints.</summary>
    void AllGatherV(ReadOnlySpan<int> mine, Span<int> all, ReadOnlySpan<int> counts);

    /// <summary>Personalised exchange: rank r's <paramref name="send"/> holds one run per destination q, in rank
    /// order, of sendCounts[q] values; rank q receives them at recv[Σ_{p&lt;r} recvCounts[p] ..] with
    /// recvCounts[r] = rank r's sendCounts[q] (MPI_Alltoallv with packed displacements).</summary>
    void AllToAllV(ReadOnlySpan<float> send, ReadOnlySpan<int> sendCounts, Span<float> recv, ReadOnlySpan<int> recvCounts);

    /// <summary>As the float overload, for ints.</summary>
    void AllToAllV(ReadOnlySpan<int> send, ReadOnlySpan<int> sendCounts, Span<int> recv, ReadOnlySpan<int> recvCounts);

    /// <summary>Returns when every rank has called it.</summary>
    void Barrier();

    /// <summary>Starts data ← Σ over ranks of data, element-wise, in place, and may return before it is done; the
    /// result is there after <see cref="Wait"/> of the returned request. Until then <paramref name="data"/> must not be
    /// touched. Every rank starts the same reductions in the same order, like any collective; the per-element sum is
    /// the one <see cref="AllReduceSum(Span{float})"/> takes.</summary>
    int StartAllReduceSum(Memory<float> data);

    /// <summary>As the float overload, for bfloat16 values (the upper 16 bits of a float, <see cref="Bf16"/>): each
    /// addition is taken in float and rounded to bfloat16 (to nearest, ties to even).</summary>
    int StartAllReduceSumBf16(Memory<ushort> data);

    /// <summary>Drives the request on and says whether it is done (then its result is final); a done request still
    /// takes its <see cref="Wait"/>.</summary>
    bool Test(int request);

    /// <summary>Returns when the request is done, and frees it.</summary>
    void Wait(int request);
}

/// <summary>One process alone: every collective is the identity.</summary>
public sealed class SingleProcess : ICommunicator
{
    public static readonly SingleProcess Instance = new();
    public int Rank => 0;
    public int Size => 1;
    public void AllReduceSum(Span<float> data) { }
    public void AllReduceSum(Span<double> data) { }
    public void AllGather(ReadOnlySpan<int> mine, Span<int> all) => mine.CopyTo(all);
    public void AllGatherV(ReadOnlySpan<float> mine, Span<float> all, ReadOnlySpan<int> counts) => mine.CopyTo(all);
    public void AllGatherV(ReadOnlySpan<int> mine, Span<int> all, ReadOnlySpan<int> counts) => mine.CopyTo(all);
    public void AllToAllV(ReadOnlySpan<float> send, ReadOnlySpan<int> sendCounts, Span<float> recv, ReadOnlySpan<int> recvCounts) =>
        send[..sendCounts[0]].CopyTo(recv);
    public void AllToAllV(ReadOnlySpan<int> send, ReadOnlySpan<int> sendCounts, Span<int> recv, ReadOnlySpan<int> recvCounts) =>
        send[..sendCounts[0]].CopyTo(recv);
    public void Barrier() { }
    public int StartAllReduceSum(Memory<float> data) => 0;
    public int StartAllReduceSumBf16(Memory<ushort> data) => 0;
    public bool Test(int request) => true;
    public void Wait(int request) { }
    public void Dispose() { }
}
