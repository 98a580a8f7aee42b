using System.Runtime.InteropServices;
using CtrDsl.OpenCl;
using Xunit;

namespace CtrDsl.Tests.OpenCl;

/// <summary>
/// A fact that needs an OpenCL device: skipped with the install hint when <see cref="OpenClDevices.List"/> finds
/// none, unless CTRDSL_REQUIRE_OPENCL=1, where the test runs and fails with that message instead (CI sets it, so a
/// runner without PoCL cannot pass by skipping).
/// </summary>
public sealed class OpenClFactAttribute : FactAttribute
{
    public OpenClFactAttribute()
    {
        if (!OpenClTestDevice.Available && !OpenClTestDevice.Required) Skip = OpenClDevices.InstallHint;
    }
}

/// <summary>One backend for every OpenCL test (building the kernels is the slow part), used by one test at a time.</summary>
public static class OpenClTestDevice
{
    public const string Collection = "opencl";

    public static bool Required => Environment.GetEnvironmentVariable("CTRDSL_REQUIRE_OPENCL") == "1";

    public static bool Available => Devices.Value.Count > 0;

    private static readonly Lazy<IReadOnlyList<OpenClDevice>> Devices = new(() =>
    {
        // PoCL compiles kernels on first use and caches the binaries; keep its cache in a temp folder of our own.
        // It reads the native environment, which .NET's SetEnvironmentVariable does not change on Unix.
        if (Environment.GetEnvironmentVariable("POCL_CACHE_DIR") is null && OperatingSystem.IsLinux())
            setenv("POCL_CACHE_DIR", Path.Combine(Path.GetTempPath(), "ctrdsl-pocl-cache"), 1);
        return OpenClDevices.List();
    });

    private static readonly Lazy<OpenClBackend> Shared = new(() =>
    {
        _ = Devices.Value;
        return OpenClBackend.Create(0);
    });

    public static OpenClBackend Backend => Shared.Value;

    [DllImport("libc", CharSet = CharSet.Ansi)]
    private static extern int setenv(string name, string value, int overwrite);
}

[CollectionDefinition(OpenClTestDevice.Collection, DisableParallelization = true)]
public sealed class OpenClCollection;
