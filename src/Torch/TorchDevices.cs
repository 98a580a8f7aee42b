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
            try
            {
                torch.InitializeDeviceType(DeviceType.CPU);
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
