using System.Reflection;

namespace CtrDsl.Backends;

/// <summary>A device that cannot be used (its backend is not in this build, no runtime, an index that does not
/// exist); the message says what to do. Front ends print it as one line.</summary>
public class BackendUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// A backend that lives in an assembly of its own and is made by name: the Torch backend carries libtorch (600 MB of
/// native libraries), which the core and a default build of ctr must not. The assembly is referenced only by the
/// programs that want it (tests/Torch.Tests; ctr built with <c>-p:Torch=true</c>), and found here by its name.
/// </summary>
public interface IBackendProvider
{
    /// <summary>The device names this provider accepts, the ones it can run on first (e.g. "torch", "torch:cuda:0").</summary>
    IReadOnlyList<string> Devices();
    /// <summary>What is missing for the rest of its devices (e.g. that CUDA is absent), or null.</summary>
    string? Note();
    /// <summary>A backend on <paramref name="device"/>, one of the names the DSL's Device grammar makes; throws
    /// <see cref="BackendUnavailableException"/> saying what is missing.</summary>
    IBackend Create(string device);
}

/// <summary>The providers of backends outside the core, each known by its assembly and type name (the one list).</summary>
public static class BackendProviders
{
    /// <summary>How to get the Torch backend into a build of ctr.</summary>
    public const string TorchHint = "the Torch backend is not in this build of ctr: build it with `-p:Torch=true` (docs/gpu.md)";

    private static readonly Lazy<(IBackendProvider? Provider, string? Why)> torch = new(() => Load("CtrDsl.Torch", "CtrDsl.Torch.TorchProvider"));

    /// <summary>The Torch backend's provider, or null with <paramref name="why"/> when its assembly is absent.</summary>
    public static IBackendProvider? TryTorch(out string why)
    {
        var (p, w) = torch.Value;
        why = w ?? "";
        return p;
    }

    /// <summary>The Torch backend's provider; throws <see cref="BackendUnavailableException"/> when it is not in this build.</summary>
    public static IBackendProvider Torch => TryTorch(out var why) ?? throw new BackendUnavailableException(why);

    private static (IBackendProvider?, string?) Load(string assembly, string type)
    {
        try
        {
            var t = Assembly.Load(new AssemblyName(assembly)).GetType(type, throwOnError: true)!;
            return ((IBackendProvider)Activator.CreateInstance(t)!, null);
        }
        catch (FileNotFoundException) { return (null, TorchHint); }
    }
}
