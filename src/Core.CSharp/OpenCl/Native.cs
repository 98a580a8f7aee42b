using System.Runtime.InteropServices;

namespace CtrDsl.OpenCl;

/// <summary>
/// The slice of the OpenCL 1.2 C API the backend uses, bound to the ICD loader <c>libOpenCL.so.1</c>, and of
/// CLBlast's C API (<c>libclblast.so.1</c>). Objects the backend creates come back as <see cref="SafeHandle"/>s
/// (see <see cref="ClHandle"/>), so a dropped context, queue, buffer, program or kernel is released once.
/// </summary>
internal static unsafe partial class Native
{
    private const string Cl = "libOpenCL.so.1";
    private const string Blast = "libclblast.so.1";

    public const int Success = 0;
    public const int DeviceNotFound = -1;
    public const int BuildProgramFailure = -11;
    public const int PlatformNotFoundKhr = -1001;

    public const uint PlatformName = 0x0902;
    public const uint PlatformVendor = 0x0903;
    public const ulong DeviceTypeAll = 0xFFFFFFFF;
    public const uint DeviceType = 0x1000;
    public const uint DeviceMaxComputeUnits = 0x1002;
    public const uint DeviceGlobalMemSize = 0x101F;
    public const uint DeviceName = 0x102B;
    public const uint DeviceVersion = 0x102F;
    public const uint ProgramBuildLog = 0x1183;
    public const ulong MemReadWrite = 1;

    [LibraryImport(Cl)] public static partial int clGetPlatformIDs(uint numEntries, IntPtr* platforms, uint* numPlatforms);
    [LibraryImport(Cl)] public static partial int clGetPlatformInfo(IntPtr platform, uint param, nuint size, void* value, nuint* sizeRet);
    [LibraryImport(Cl)] public static partial int clGetDeviceIDs(IntPtr platform, ulong type, uint numEntries, IntPtr* devices, uint* numDevices);
    [LibraryImport(Cl)] public static partial int clGetDeviceInfo(IntPtr device, uint param, nuint size, void* value, nuint* sizeRet);

    [LibraryImport(Cl)] public static partial ClContext clCreateContext(IntPtr* properties, uint numDevices, IntPtr* devices, IntPtr notify, IntPtr userData, out int error);
    [LibraryImport(Cl)] public static partial int clReleaseContext(IntPtr context);
    [LibraryImport(Cl)] public static partial ClQueue clCreateCommandQueue(ClContext context, IntPtr device, ulong properties, out int error);
    [LibraryImport(Cl)] public static partial int clReleaseCommandQueue(IntPtr queue);
    [LibraryImport(Cl)] public static partial int clFinish(ClQueue queue);

    [LibraryImport(Cl)] public static partial ClMem clCreateBuffer(ClContext context, ulong flags, nuint size, IntPtr hostPtr, out int error);
    [LibraryImport(Cl)] public static partial int clReleaseMemObject(IntPtr mem);
    [LibraryImport(Cl)] public static partial int clEnqueueWriteBuffer(ClQueue queue, ClMem buffer, uint blocking, nuint offset, nuint size, void* ptr, uint numEvents, IntPtr* waitList, IntPtr* evt);
    [LibraryImport(Cl)] public static partial int clEnqueueReadBuffer(ClQueue queue, ClMem buffer, uint blocking, nuint offset, nuint size, void* ptr, uint numEvents, IntPtr* waitList, IntPtr* evt);
    [LibraryImport(Cl)] public static partial int clEnqueueCopyBuffer(ClQueue queue, ClMem source, ClMem destination, nuint sourceOffset, nuint destinationOffset, nuint size, uint numEvents, IntPtr* waitList, IntPtr* evt);

    [LibraryImport(Cl)] public static partial ClProgram clCreateProgramWithSource(ClContext context, uint count, byte** strings, nuint* lengths, out int error);
    [LibraryImport(Cl, StringMarshalling = StringMarshalling.Utf8)] public static partial int clBuildProgram(ClProgram program, uint numDevices, IntPtr* devices, string options, IntPtr notify, IntPtr userData);
    [LibraryImport(Cl)] public static partial int clGetProgramBuildInfo(ClProgram program, IntPtr device, uint param, nuint size, void* value, nuint* sizeRet);
    [LibraryImport(Cl)] public static partial int clReleaseProgram(IntPtr program);

    [LibraryImport(Cl, StringMarshalling = StringMarshalling.Utf8)] public static partial ClKernel clCreateKernel(ClProgram program, string name, out int error);
    [LibraryImport(Cl)] public static partial int clReleaseKernel(IntPtr kernel);
    [LibraryImport(Cl)] public static partial int clSetKernelArg(ClKernel kernel, uint index, nuint size, void* value);
    [LibraryImport(Cl)] public static partial int clEnqueueNDRangeKernel(ClQueue queue, ClKernel kernel, uint workDim, nuint* globalOffset, nuint* globalSize, nuint* localSize, uint numEvents, IntPtr* waitList, IntPtr* evt);

    // CLBlast: layouts and transposes use the CBLAS numbering.
    public const int RowMajor = 101;
    public const int NoTrans = 111;
    public const int Trans = 112;

    [LibraryImport(Blast)]
    public static partial int CLBlastSgemm(int layout, int transA, int transB, nuint m, nuint n, nuint k, float alpha,
        IntPtr a, nuint aOffset, nuint lda, IntPtr b, nuint bOffset, nuint ldb, float beta, IntPtr c, nuint cOffset, nuint ldc,
        IntPtr* queue, IntPtr* evt);

    [LibraryImport(Blast)]
    public static partial int CLBlastSgemmStridedBatched(int layout, int transA, int transB, nuint m, nuint n, nuint k, float alpha,
        IntPtr a, nuint aOffset, nuint lda, nuint aStride, IntPtr b, nuint bOffset, nuint ldb, nuint bStride, float beta,
        IntPtr c, nuint cOffset, nuint ldc, nuint cStride, nuint batchCount, IntPtr* queue, IntPtr* evt);
}
