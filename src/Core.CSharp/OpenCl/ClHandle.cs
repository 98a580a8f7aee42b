using System.Runtime.InteropServices;

namespace CtrDsl.OpenCl;

/// <summary>An OpenCL object released exactly once by its own release call.</summary>
internal abstract class ClHandle() : SafeHandle(IntPtr.Zero, ownsHandle: true)
{
    public override bool IsInvalid => handle == IntPtr.Zero;
}

internal sealed class ClContext : ClHandle { protected override bool ReleaseHandle() => Native.clReleaseContext(handle) == 0; }
internal sealed class ClQueue : ClHandle { protected override bool ReleaseHandle() => Native.clReleaseCommandQueue(handle) == 0; }
internal sealed class ClMem : ClHandle { protected override bool ReleaseHandle() => Native.clReleaseMemObject(handle) == 0; }
internal sealed class ClProgram : ClHandle { protected override bool ReleaseHandle() => Native.clReleaseProgram(handle) == 0; }
internal sealed class ClKernel : ClHandle { protected override bool ReleaseHandle() => Native.clReleaseKernel(handle) == 0; }
