using CtrDsl.Backends;

namespace CtrDsl.Torch;

/// <summary>How ctr and the DSL reach the Torch backend without referencing it: <see cref="BackendProviders.Torch"/>
/// loads this assembly by name and makes this provider. Devices are named "torch" (libtorch on the CPU) and
/// "torch:cuda:N".</summary>
public sealed class TorchProvider : IBackendProvider
{
    public IReadOnlyList<string> Devices() => TorchDevices.List();

    public string? Note() => TorchDevices.CudaCount() == 0 ? TorchDevices.NoCuda : null;

    public IBackend Create(string device)
    {
        if (device == "torch") return TorchBackend.Create();
        const string cuda = "torch:cuda:";
        if (device.StartsWith(cuda, StringComparison.Ordinal) && int.TryParse(device.AsSpan(cuda.Length), out int i) && i >= 0)
            return TorchBackend.Create(i);
        throw new BackendUnavailableException($"{device}: not a torch device; expected torch or torch:cuda:N");
    }
}
