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
    public void Dispose() { }
}
