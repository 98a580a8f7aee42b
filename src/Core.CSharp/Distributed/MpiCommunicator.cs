using System.Text;

namespace CtrDsl.Distributed;

/// <summary>
/// MPI_COMM_WORLD of a process started by <c>mpiexec</c> (MPICH). <see cref="LaunchedSize"/> says whether this
/// process is one of several ranks; <see cref="Open"/> initialises MPI once per process. Errors come back as
/// <see cref="MpiException"/> (the communicator returns errors instead of aborting), and <see cref="Dispose"/>
/// finalises MPI.
/// </summary>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    private static MpiCommunicator? _world;
    private int[] _displs = [], _sendDispls = [];

    private MpiCommunicator(int rank, int size)
    {
        Rank = rank;
        Size = size;
    }

    public int Rank { get; }
    public int Size { get; }

    /// <summary>The world size that <c>mpiexec</c> (Hydra's PMI) announced to this process, or 1 when it was not
    /// started by mpiexec. Open MPI's launcher is recognised and refused, since its ABI differs.</summary>
    public static int LaunchedSize()
    {
        if (Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is { } ompi && ompi != "1")
            throw new MpiException("this process was started by Open MPI's mpiexec; CtrDsl speaks MPICH's ABI (install mpich and use its mpiexec)");
        return int.TryParse(Environment.GetEnvironmentVariable("PMI_SIZE"), out int n) && n > 0 ? n : 1;
    }

    /// <summary>Initialises MPI (once per process) and returns the world communicator.</summary>
    public static MpiCommunicator Open()
    {
        if (_world is not null) return _world;
        try
        {
            Check(MpiNative.Initialized(out int done), "MPI_Initialized");
            if (done == 0) Check(MpiNative.InitThread(0, 0, MpiNative.ThreadFunneled, out _), "MPI_Init_thread");
        }
        catch (DllNotFoundException)
        {
            throw new MpiException("libmpich.so.12 was not found: install MPICH (Debian: apt-get install mpich)");
        }
        Check(MpiNative.CommSetErrhandler(MpiNative.CommWorld, MpiNative.ErrorsReturn), "MPI_Comm_set_errhandler");
        Check(MpiNative.CommRank(MpiNative.CommWorld, out int rank), "MPI_Comm_rank");
        Check(MpiNative.CommSize(MpiNative.CommWorld, out int size), "MPI_Comm_size");
        return _world = new MpiCommunicator(rank, size);
    }

    public void AllReduceSum(Span<float> data) => Reduce(data, MpiNative.Float);
    public void AllReduceSum(Span<double> data) => Reduce(data, MpiNative.Double);

    public void AllGather(ReadOnlySpan<int> mine, Span<int> all)
    {
        fixed (int* s = mine, r = all)
            Check(MpiNative.Allgather(s, mine.Length, MpiNative.Int, r, mine.Length, MpiNative.Int, MpiNative.CommWorld), "MPI_Allgather");
    }

    public void AllGatherV(ReadOnlySpan<float> mine, Span<float> all, ReadOnlySpan<int> counts) => GatherV(mine, all, counts, MpiNative.Float);
    public void AllGatherV(ReadOnlySpan<int> mine, Span<int> all, ReadOnlySpan<int> counts) => GatherV(mine, all, counts, MpiNative.Int);

    public void AllToAllV(ReadOnlySpan<float> send, ReadOnlySpan<int> sendCounts, Span<float> recv, ReadOnlySpan<int> recvCounts) =>
        Exchange(send, sendCounts, recv, recvCounts, MpiNative.Float);

    public void AllToAllV(ReadOnlySpan<int> send, ReadOnlySpan<int> sendCounts, Span<int> recv, ReadOnlySpan<int> recvCounts) =>
        Exchange(send, sendCounts, recv, recvCounts, MpiNative.Int);

    // One body per collective; `type` is the MPICH datatype handle of T.
    private static void Reduce<T>(Span<T> data, int type) where T : unmanaged
    {
        fixed (T* p = data)
            Check(MpiNative.Allreduce(MpiNative.InPlace, p, data.Length, type, MpiNative.Sum, MpiNative.CommWorld), "MPI_Allreduce");
    }

    private void GatherV<T>(ReadOnlySpan<T> mine, Span<T> all, ReadOnlySpan<int> counts, int type) where T : unmanaged
    {
        var displs = Displacements(counts);
        fixed (T* s = mine, r = all)
        fixed (int* c = counts, d = displs)
            Check(MpiNative.Allgatherv(s, mine.Length, type, r, c, d, type, MpiNative.CommWorld), "MPI_Allgatherv");
    }

    private void Exchange<T>(ReadOnlySpan<T> send, ReadOnlySpan<int> sendCounts, Span<T> recv, ReadOnlySpan<int> recvCounts, int type)
        where T : unmanaged
    {
        var sd = Displacements(sendCounts, ref _sendDispls);
        var rd = Displacements(recvCounts);
        fixed (T* s = send, r = recv)
        fixed (int* sc = sendCounts, sdp = sd, rc = recvCounts, rdp = rd)
            Check(MpiNative.Alltoallv(s, sc, sdp, type, r, rc, rdp, type, MpiNative.CommWorld), "MPI_Alltoallv");
    }

    private int[] Displacements(ReadOnlySpan<int> counts) => Displacements(counts, ref _displs);

    private static int[] Displacements(ReadOnlySpan<int> counts, ref int[] displs)
    {
        if (displs.Length != counts.Length) displs = new int[counts.Length];
        int at = 0;
        for (int r = 0; r < counts.Length; r++)
        {
            displs[r] = at;
            at += counts[r];
        }
        return displs;
    }

    public void Barrier() => Check(MpiNative.Barrier(MpiNative.CommWorld), "MPI_Barrier");

    // Requests in flight: MPICH's request handle and the pin that keeps the buffer in place until MPI_Wait. A slot is
    // reused once waited for, so a steady stream of reductions allocates nothing.
    private int[] _requests = [];
    private System.Buffers.MemoryHandle[] _pins = [];
    private int _sumBf16;

    public int StartAllReduceSum(Memory<float> data) => Start(data, MpiNative.Float, MpiNative.Sum);

    public int StartAllReduceSumBf16(Memory<ushort> data)
    {
        if (_sumBf16 == 0) Check(MpiNative.OpCreate(&SumBf16, 1, out _sumBf16), "MPI_Op_create");
        return Start(data, MpiNative.UInt16, _sumBf16);
    }

    // MPI_User_function for bfloat16 sums: inout[i] ← bf16(in[i] + inout[i]).
    [System.Runtime.InteropServices.UnmanagedCallersOnly(CallConvs = [typeof(System.Runtime.CompilerServices.CallConvCdecl)])]
    private static void SumBf16(void* input, void* inout, int* length, int* type)
    {
        var a = new ReadOnlySpan<ushort>(input, *length);
        var b = new Span<ushort>(inout, *length);
        for (int i = 0; i < b.Length; i++) b[i] = Bf16.Add(a[i], b[i]);
    }

    private int Start<T>(Memory<T> data, int type, int op) where T : unmanaged
    {
        int slot = Array.IndexOf(_requests, MpiNative.RequestNull);
        if (slot < 0)
        {
            slot = _requests.Length;
            Array.Resize(ref _requests, Math.Max(4, 2 * slot));
            Array.Resize(ref _pins, _requests.Length);
            _requests.AsSpan(slot).Fill(MpiNative.RequestNull);
        }
        var pin = data.Pin();
        fixed (int* r = &_requests[slot])
        {
            int code = MpiNative.Iallreduce(MpiNative.InPlace, pin.Pointer, data.Length, type, op, MpiNative.CommWorld, r);
            if (code != 0)
            {
                pin.Dispose();
                *r = MpiNative.RequestNull;
                Check(code, "MPI_Iallreduce");
            }
        }
        _pins[slot] = pin;
        return slot;
    }

    public bool Test(int request)
    {
        int done;
        fixed (int* r = &_requests[request])
        {
            if (*r == MpiNative.RequestNull || *r == RequestDone) return true;
            Check(MpiNative.Test(r, &done, MpiNative.StatusIgnore), "MPI_Test");
            // A completed request becomes MPI_REQUEST_NULL; keep the slot taken until Wait frees its pin.
            if (done != 0) *r = RequestDone;
        }
        return done != 0;
    }

    public void Wait(int request)
    {
        fixed (int* r = &_requests[request])
        {
            if (*r != RequestDone && *r != MpiNative.RequestNull) Check(MpiNative.Wait(r, MpiNative.StatusIgnore), "MPI_Wait");
            *r = MpiNative.RequestNull;
        }
        _pins[request].Dispose();
        _pins[request] = default;
    }

    // Marks a slot whose request MPI_Test found complete (MPICH's request handles never take this value).
    private const int RequestDone = 0;

    /// <summary>Ends every rank of the job with <paramref name="code"/>: what a rank does when it cannot go on and
    /// the others would otherwise wait for it in a collective.</summary>
    public void Abort(int code) => MpiNative.Abort(MpiNative.CommWorld, code);

    public void Dispose()
    {
        if (_world is null) return;
        _world = null;
        MpiNative.Finalize();
    }

    private static void Check(int code, string call)
    {
        if (code == 0) return;
        var text = new byte[1024];
        int length;
        fixed (byte* t = text) MpiNative.ErrorString(code, t, out length);
        throw new MpiException($"{call} failed: {Encoding.ASCII.GetString(text, 0, Math.Clamp(length, 0, text.Length)).Trim()}");
    }
}

/// <summary>An MPI call failed, or MPI is missing; the message says which.</summary>
public sealed class MpiException(string message) : Exception(message);
