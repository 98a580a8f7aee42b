using Xunit;

namespace CtrDsl.Tests.Support;

/// <summary>
/// Tests that read process-wide counters (allocated bytes), change the worker pool's thread count or drive the pool
/// hard run in this collection, alone, after the parallel ones: other tests' allocations would otherwise be counted.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class Serial
{
    public const string Name = "serial";
}
