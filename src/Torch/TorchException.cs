using CtrDsl.Backends;

namespace CtrDsl.Torch;

/// <summary>A torch device that cannot be used (no CUDA runtime, a device index that does not exist, libtorch that
/// does not load); the message says what to do.</summary>
public sealed class TorchException(string message, Exception? inner = null) : BackendUnavailableException(message, inner);
