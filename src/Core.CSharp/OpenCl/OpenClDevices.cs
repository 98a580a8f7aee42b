using System.Text;

namespace CtrDsl.OpenCl;

/// <summary>One OpenCL device as <see cref="OpenClDevices.List"/> reports it; <see cref="Index"/> is what
/// <see cref="OpenClBackend.Create"/> takes.</summary>
public sealed record OpenClDevice(int Index, string Platform, string Name, string Type, int ComputeUnits, long GlobalMemoryBytes, string Version)
{
    internal IntPtr PlatformId { get; init; }
    internal IntPtr DeviceId { get; init; }

    public override string ToString() =>
        $"{Index}: {Name} ({Type}, {ComputeUnits} compute units, {GlobalMemoryBytes / (1024.0 * 1024 * 1024):F1} GiB) on {Platform}, {Version}";
}

/// <summary>The OpenCL devices of every installed platform, numbered across platforms in the loader's order.</summary>
public static unsafe class OpenClDevices
{
    /// <summary>What to install when no runtime is found, in one line for the exception and the skipped tests.</summary>
    public const string InstallHint =
        "no OpenCL runtime found: install one, e.g. `apt-get install pocl-opencl-icd ocl-icd-libopencl1 libclblast1` " +
        "(CPU, for testing) or your GPU vendor's OpenCL driver (with libclblast1 for GEMM)";

    /// <summary>Every device, or an empty list when libOpenCL.so.1 is missing or reports no platform.</summary>
    public static IReadOnlyList<OpenClDevice> List()
    {
        try { return Enumerate(); }
        catch (DllNotFoundException) { return []; }
        catch (EntryPointNotFoundException) { return []; }
    }

    private static List<OpenClDevice> Enumerate()
    {
        var result = new List<OpenClDevice>();
        uint platformCount;
        int status = Native.clGetPlatformIDs(0, null, &platformCount);
        if (status == Native.PlatformNotFoundKhr || platformCount == 0) return result;
        OpenClException.Check(status, "clGetPlatformIDs");
        var platforms = new IntPtr[platformCount];
        fixed (IntPtr* p = platforms) OpenClException.Check(Native.clGetPlatformIDs(platformCount, p, null), "clGetPlatformIDs");
        foreach (var platform in platforms)
        {
            string platformName = PlatformString(platform, Native.PlatformName);
            uint deviceCount;
            status = Native.clGetDeviceIDs(platform, Native.DeviceTypeAll, 0, null, &deviceCount);
            if (status == Native.DeviceNotFound || deviceCount == 0) continue;
            OpenClException.Check(status, "clGetDeviceIDs");
            var devices = new IntPtr[deviceCount];
            fixed (IntPtr* d = devices) OpenClException.Check(Native.clGetDeviceIDs(platform, Native.DeviceTypeAll, deviceCount, d, null), "clGetDeviceIDs");
            foreach (var device in devices)
            {
                ulong type = DeviceValue<ulong>(device, Native.DeviceType);
                result.Add(new OpenClDevice(result.Count, platformName, DeviceString(device, Native.DeviceName), TypeName(type),
                    (int)DeviceValue<uint>(device, Native.DeviceMaxComputeUnits), (long)DeviceValue<ulong>(device, Native.DeviceGlobalMemSize),
                    DeviceString(device, Native.DeviceVersion)) { PlatformId = platform, DeviceId = device });
            }
        }
        return result;
    }

    private static string TypeName(ulong type) => (type & 4) != 0 ? "GPU" : (type & 2) != 0 ? "CPU" : (type & 8) != 0 ? "accelerator" : "other";

    private static string PlatformString(IntPtr platform, uint param)
    {
        nuint size;
        OpenClException.Check(Native.clGetPlatformInfo(platform, param, 0, null, &size), "clGetPlatformInfo");
        var bytes = new byte[size];
        fixed (byte* b = bytes) OpenClException.Check(Native.clGetPlatformInfo(platform, param, size, b, null), "clGetPlatformInfo");
        return Decode(bytes);
    }

    private static string DeviceString(IntPtr device, uint param)
    {
        nuint size;
        OpenClException.Check(Native.clGetDeviceInfo(device, param, 0, null, &size), "clGetDeviceInfo");
        var bytes = new byte[size];
        fixed (byte* b = bytes) OpenClException.Check(Native.clGetDeviceInfo(device, param, size, b, null), "clGetDeviceInfo");
        return Decode(bytes);
    }

    private static T DeviceValue<T>(IntPtr device, uint param) where T : unmanaged
    {
        T value = default;
        OpenClException.Check(Native.clGetDeviceInfo(device, param, (nuint)sizeof(T), &value, null), "clGetDeviceInfo");
        return value;
    }

    internal static string Decode(byte[] bytes) => Encoding.UTF8.GetString(bytes).TrimEnd('\0').Trim();
}
