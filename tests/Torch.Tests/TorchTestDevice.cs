using Xunit;

namespace CtrDsl.Torch.Tests;

/// <summary>One libtorch CPU backend for the backend tests, used by one test at a time. libtorch comes with the
/// package reference, so these tests never skip: a libtorch that does not load fails them.</summary>
public static class TorchTestDevice
{
    public const string Collection = "torch";

    private static readonly Lazy<TorchBackend> Shared = new(() => TorchBackend.Create());

    public static TorchBackend Backend => Shared.Value;
}

[CollectionDefinition(TorchTestDevice.Collection, DisableParallelization = true)]
public sealed class TorchCollection;
