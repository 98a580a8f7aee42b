using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;

namespace CtrDsl.Torch;

/// <summary>What libtorch offers on this machine: its CPU, and the CUDA devices when the build carries CUDA's libtorch.</summary>
public static class TorchDevices
{
    /// <summary>Why there is no CUDA device, and what a user does about it: a build without CUDA's libtorch needs
    /// another build; a build with it needs a driver and a device.</summary>
    public static string NoCuda => CudaBuild ? NoDriver : CpuBuild;

    private const string NoDriver =
        "CUDA is not available: this build carries libtorch with CUDA, but it finds no NVIDIA driver or device "
        + "(`nvidia-smi` should list one; docs/gpu.md, \"CUDA through libtorch\")";

    private const string CpuBuild =
        "CUDA is not available: this build carries libtorch for the CPU (libtorch-cpu-linux-x64). For CUDA, build with "
        + "-p:TorchCuda=true (TorchSharp-cuda-linux) on a machine with an NVIDIA driver (docs/gpu.md, \"CUDA through libtorch\")";

    /// <summary>Whether libtorch's CUDA library came with this build (TorchSharp-cuda-linux, `-p:TorchCuda=true`).</summary>
    public static bool CudaBuild =>
        Directory.EnumerateFiles(AppContext.BaseDirectory, "libtorch_cuda.so", SearchOption.AllDirectories).Any();

    private static string? _loadError;
    private static bool _loaded;

    /// <summary>Loads libtorch once; throws <see cref="TorchException"/> with the loader's reason when it cannot.</summary>
    public static void EnsureLoaded()
    {
        if (_loaded) return;
        if (_loadError is null)
        {
            PassiveOpenMpWait();
            try
            {
                Initialize();
                _loaded = true;
                return;
            }
            catch (Exception e)
            {
                _loadError = $"libtorch does not load: {e.Message} (docs/gpu.md, \"The Torch backend\")";
            }
        }
        throw new TorchException(_loadError);
    }

    // libtorch's OpenMP threads spin after every parallel region by default (libgomp's OMP_WAIT_POLICY=active). Between
    // our small kernels that spinning takes the cores from everything else: on the 2-core development VM under load a
    // DeepFM step took 2–3× longer spinning than waiting passively. libgomp reads the variable when it is loaded, so it
    // is set in the native environment before libtorch is (a user's own setting wins).
    private static void PassiveOpenMpWait()
    {
        if (OperatingSystem.IsLinux() && Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null) setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Initialize() => torch.InitializeDeviceType(DeviceType.CPU);

    [DllImport("libc", CharSet = CharSet.Ansi)]
    private static extern int setenv(string name, string value, int overwrite);

    /// <summary>The number of CUDA devices libtorch sees: 0 without CUDA's libtorch, a driver or a device.</summary>
    public static int CudaCount()
    {
        EnsureLoaded();
        try { return torch.cuda.is_available() ? torch.cuda.device_count() : 0; }
        catch (Exception) { return 0; }
    }

    /// <summary>The device names <c>--device</c> accepts for this backend: "torch", then "torch:cuda:N" for each CUDA device.</summary>
    public static IReadOnlyList<string> List()
    {
        var names = new List<string> { "torch" };
        for (int i = 0, n = CudaCount(); i < n; i++) names.Add($"torch:cuda:{i}");
        return names;
    }

    /// <summary>libtorch's CPU threads.</summary>
    public static int Threads
    {
        get { EnsureLoaded(); return torch.get_num_threads(); }
    }
}
