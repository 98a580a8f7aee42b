using System.Runtime.InteropServices;

namespace CtrDsl.Distributed;

/// <summary>
/// The few MPI calls training needs, bound to MPICH's C library (<c>libmpich.so.12</c>, Debian's <c>mpich</c>).
/// Handles are MPICH's: ints with fixed values (mpi.h of MPICH 4.0), which MPICH keeps across versions and which its
/// ABI-compatible relatives (Intel MPI, MVAPICH, Cray MPICH) share. Open MPI uses pointers and is not supported.
/// Our own binding rather than MPI.NET: MPI.NET's value is its typed, serialising object layer, and we move only
/// float and int spans; a dozen calls need no package and no msmpi.dll remapping.
/// </summary>
internal static unsafe partial class MpiNative
{
    private const string Lib = "libmpich.so.12";

    public const int CommWorld = 0x44000000;
    public const int Float = 0x4c00040a;
    public const int Double = 0x4c00080b;
    public const int Int = 0x4c000405;
    public const int UInt16 = 0x4c00023c;
    public const int RequestNull = 0x2c000000;   // MPI_Request is an int in MPICH
    public static readonly nint StatusIgnore = 1;
    public const int Sum = 0x58000003;
    public const int ErrorsReturn = 0x54000001;
    public const int ThreadFunneled = 1;
    public static readonly nint InPlace = -1;

    [LibraryImport(Lib, EntryPoint = "MPI_Initialized")]
    public static partial int Initialized(out int flag);

    [LibraryImport(Lib, EntryPoint = "MPI_Init_thread")]
    public static partial int InitThread(nint argc, nint argv, int required, out int provided);

    [LibraryImport(Lib, EntryPoint = "MPI_Finalize")]
    public static partial int Finalize();

    [LibraryImport(Lib, EntryPoint = "MPI_Comm_rank")]
    public static partial int CommRank(int comm, out int rank);

    [LibraryImport(Lib, EntryPoint = "MPI_Comm_size")]
    public static partial int CommSize(int comm, out int size);

    [LibraryImport(Lib, EntryPoint = "MPI_Comm_set_errhandler")]
    public static partial int CommSetErrhandler(int comm, int handler);

    [LibraryImport(Lib, EntryPoint = "MPI_Allreduce")]
    public static partial int Allreduce(nint send, void* recv, int count, int type, int op, int comm);

    [LibraryImport(Lib, EntryPoint = "MPI_Iallreduce")]
    public static partial int Iallreduce(nint send, void* recv, int count, int type, int op, int comm, int* request);

    [LibraryImport(Lib, EntryPoint = "MPI_Wait")]
    public static partial int Wait(int* request, nint status);

    [LibraryImport(Lib, EntryPoint = "MPI_Test")]
    public static partial int Test(int* request, int* flag, nint status);

    /// <summary>MPI_Op_create: <paramref name="function"/> is an MPI_User_function (in, inout, len, datatype).</summary>
    [LibraryImport(Lib, EntryPoint = "MPI_Op_create")]
    public static partial int OpCreate(delegate* unmanaged[Cdecl]<void*, void*, int*, int*, void> function, int commute, out int op);

    [LibraryImport(Lib, EntryPoint = "MPI_Allgather")]
    public static partial int Allgather(void* send, int sendCount, int sendType, void* recv, int recvCount, int recvType, int comm);

    [LibraryImport(Lib, EntryPoint = "MPI_Allgatherv")]
    public static partial int Allgatherv(void* send, int sendCount, int sendType, void* recv, int* recvCounts, int* displs, int recvType, int comm);

    [LibraryImport(Lib, EntryPoint = "MPI_Alltoallv")]
    public static partial int Alltoallv(
        void* send, int* sendCounts, int* sendDispls, int sendType, void* recv, int* recvCounts, int* recvDispls, int recvType, int comm);

    [LibraryImport(Lib, EntryPoint = "MPI_Barrier")]
    public static partial int Barrier(int comm);

    [LibraryImport(Lib, EntryPoint = "MPI_Abort")]
    public static partial int Abort(int comm, int code);

    [LibraryImport(Lib, EntryPoint = "MPI_Error_string")]
    public static partial int ErrorString(int code, byte* text, out int length);
}
